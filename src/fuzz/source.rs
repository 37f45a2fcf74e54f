//! The cases one worker runs, in order: worker `w` of `jobs` owns indices `w, w + jobs, ...`,
//! each case generated from the run seed and its index (so a seed replays a run). Cases that
//! were drawn but not judged (the rest of a batch after a finding, a case drawn just before its
//! session had to be replaced) go back to the front, so a run loses none of them.

use super::case::Case;
use super::shrink;
use super::strategies::Mix;
use proptest::strategy::ValueTree;
use std::collections::VecDeque;

pub(crate) struct Source {
    seed: u64,
    mix: Mix,
    w: u64,
    jobs: u64,
    /// Fresh indices drawn so far.
    k: u64,
    /// Drawn but not judged, to run before any fresh one.
    pending: VecDeque<(u64, Case)>,
    /// The next fresh case, generated ahead (while the server answers the current one).
    ahead: Option<(u64, Case)>,
}

impl Source {
    pub fn new(seed: u64, mix: Mix, w: usize, jobs: usize) -> Source {
        Source { seed, mix, w: w as u64, jobs: jobs.max(1) as u64, k: 0, pending: VecDeque::new(), ahead: None }
    }

    /// The index of the case [`Source::draw`] returns next (`None` past the last index).
    pub fn peek(&self) -> Option<u64> {
        match self.pending.front() {
            Some((i, _)) => Some(*i),
            None => self.k.checked_mul(self.jobs).and_then(|x| x.checked_add(self.w)),
        }
    }

    /// The next case and its index.
    pub fn draw(&mut self) -> Option<(u64, Case)> {
        if let Some(p) = self.pending.pop_front() {
            return Some(p);
        }
        let index = self.peek()?;
        self.k += 1;
        let case = match self.ahead.take() {
            Some((i, c)) if i == index => c,
            _ => self.generate(index),
        };
        Some((index, case))
    }

    /// Puts drawn cases back, to be drawn again first, in the same order.
    pub fn put_back(&mut self, cases: impl IntoIterator<Item = (u64, Case)>) {
        let mut cases: Vec<_> = cases.into_iter().collect();
        while let Some(c) = cases.pop() {
            self.pending.push_front(c);
        }
    }

    /// Generates the next fresh case now, when it will be needed (call while waiting).
    pub fn prepare(&mut self) {
        if self.pending.is_empty() && self.ahead.is_none() {
            if let Some(index) = self.peek() {
                self.ahead = Some((index, self.generate(index)));
            }
        }
    }

    fn generate(&self, index: u64) -> Case {
        shrink::case_tree(self.seed, index, self.mix).current().render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_its_share_in_order_and_put_back_cases_first() {
        let mut s = Source::new(9, Mix::All, 1, 3);
        let first: Vec<u64> = (0..4).map(|_| s.draw().unwrap().0).collect();
        assert_eq!(first, [1, 4, 7, 10]);
        let a = s.draw().unwrap();
        let b = s.draw().unwrap();
        s.put_back([a.clone(), b.clone()]);
        assert_eq!(s.peek(), Some(a.0));
        assert_eq!(s.draw().unwrap(), a);
        assert_eq!(s.draw().unwrap(), b);
        assert_eq!(s.draw().unwrap().0, 19);
    }

    #[test]
    fn prepared_cases_are_the_cases_of_their_index() {
        let mut ahead = Source::new(9, Mix::Single, 0, 2);
        let mut plain = Source::new(9, Mix::Single, 0, 2);
        for _ in 0..20 {
            ahead.prepare();
            assert_eq!(ahead.draw(), plain.draw());
        }
    }
}
