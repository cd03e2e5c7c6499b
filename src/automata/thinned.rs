//! A series kept at a bounded length over a run of any length: when it would exceed its
//! cap, every other item is dropped and from then on only every other item offered is
//! kept, so what remains is evenly spaced from the first item on.

/// At most `cap` items of a series, evenly spaced (see the module's text).
#[derive(Clone, Debug)]
pub struct Thinned<T> {
    items: Vec<T>,
    cap: usize,
    stride: u64,
    offered: u64,
}

impl<T> Thinned<T> {
    /// An empty series that keeps at most `cap` items (at least 2).
    pub fn new(cap: usize) -> Self {
        Self {
            items: Vec::new(),
            cap: cap.max(2),
            stride: 1,
            offered: 0,
        }
    }

    /// Whether the next item offered will be kept (so a caller can skip making it).
    pub fn wants_next(&self) -> bool {
        self.offered.is_multiple_of(self.stride)
    }

    /// Offers the next item of the series.
    pub fn push(&mut self, item: T) {
        if self.wants_next() {
            self.items.push(item);
            if self.items.len() > self.cap {
                let mut index = 0;
                self.items.retain(|_| {
                    index += 1;
                    index % 2 == 1
                });
                self.stride *= 2;
            }
        }
        self.offered += 1;
    }

    /// The items kept.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Items offered so far, kept or not.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Every how many offered items one is kept now.
    pub fn stride(&self) -> u64 {
        self.stride
    }
}

#[cfg(test)]
mod tests {
    use super::Thinned;

    #[test]
    fn a_thinned_series_stays_evenly_spaced_and_bounded() {
        for cap in [2, 3, 8, 100] {
            let mut s = Thinned::new(cap);
            for i in 0..10_000u64 {
                if s.wants_next() {
                    s.push(i);
                } else {
                    s.push(u64::MAX);
                }
                assert!(s.items().len() <= cap);
                for (k, &item) in s.items().iter().enumerate() {
                    assert_eq!(item, k as u64 * s.stride(), "cap {cap}, after {i}");
                }
            }
            assert_eq!(s.offered(), 10_000);
            assert!(s.items().len() > cap / 2, "cap {cap}: {}", s.items().len());
        }
    }
}
