//! PMKSA caching (IEEE 802.11-2020 §12.6.10.3): PMKs kept after a full authentication, named
//! by their PMKID and bound to the network (AA) and AKM, so a reconnect can put the PMKID in
//! its (re)association request and, when the AP names it in message 1, skip EAP entirely.
//! Bounded (const generic capacity, oldest evicted), with a lifetime and a re-authentication
//! threshold (defaults as wpa_supplicant's: 43 200 s and 70 %). Time is whole seconds from any
//! monotonic origin the platform chooses.

use heapless::Vec;

use super::keys::{Pmk, Pmkid};
use super::{Akm, MacAddr};

/// Default PMKSA lifetime in seconds (12 hours).
pub const DEFAULT_LIFETIME_S: u32 = 43_200;
/// Default re-authentication threshold, percent of the lifetime.
pub const DEFAULT_REAUTH_PERCENT: u8 = 70;

/// One cached PMKSA.
#[derive(Debug, Clone)]
pub struct PmksaEntry {
    /// The authenticator it was established with.
    pub aa: MacAddr,
    /// The AKM it was established for.
    pub akm: Akm,
    /// Its PMKID.
    pub pmkid: Pmkid,
    /// The PMK.
    pub pmk: Pmk,
    /// When it was established (seconds).
    pub created_s: u64,
}

/// A bounded PMKSA cache of at most `N` entries.
#[derive(Debug, Clone)]
pub struct PmksaCache<const N: usize> {
    entries: Vec<PmksaEntry, N>,
    lifetime_s: u32,
    reauth_percent: u8,
}

impl<const N: usize> Default for PmksaCache<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PmksaCache<N> {
    /// An empty cache with the default lifetime and threshold.
    pub const fn new() -> Self {
        Self::with_policy(DEFAULT_LIFETIME_S, DEFAULT_REAUTH_PERCENT)
    }

    /// An empty cache with a given lifetime (seconds) and re-authentication threshold
    /// (percent of the lifetime, clamped to 100).
    pub const fn with_policy(lifetime_s: u32, reauth_percent: u8) -> Self {
        PmksaCache {
            entries: Vec::new(),
            lifetime_s,
            reauth_percent: if reauth_percent > 100 {
                100
            } else {
                reauth_percent
            },
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expired(&self, e: &PmksaEntry, now_s: u64) -> bool {
        now_s >= e.created_s.saturating_add(u64::from(self.lifetime_s))
    }

    /// Whether an entry has passed the re-authentication threshold: still usable, but the
    /// platform should run a full EAP authentication soon.
    pub fn needs_reauth(&self, e: &PmksaEntry, now_s: u64) -> bool {
        // A u32 times a u8 fits a u64: the saturation is never reached.
        let threshold =
            u64::from(self.lifetime_s).saturating_mul(u64::from(self.reauth_percent)) / 100;
        now_s >= e.created_s.saturating_add(threshold)
    }

    /// Adds a PMKSA, replacing any for the same AA and AKM; when full, the oldest goes.
    pub fn insert(&mut self, aa: MacAddr, akm: Akm, pmkid: Pmkid, pmk: Pmk, now_s: u64) {
        self.remove(&aa, akm);
        if self.entries.is_full() {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.created_s)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                self.entries.swap_remove(i);
            }
        }
        let _ = self.entries.push(PmksaEntry {
            aa,
            akm,
            pmkid,
            pmk,
            created_s: now_s,
        });
    }

    /// Drops the PMKSA for an AA and AKM (e.g. the AP did not accept it).
    pub fn remove(&mut self, aa: &MacAddr, akm: Akm) {
        self.entries.retain(|e| !(e.aa == *aa && e.akm == akm));
    }

    /// Drops expired entries.
    pub fn expire(&mut self, now_s: u64) {
        let lifetime = u64::from(self.lifetime_s);
        self.entries
            .retain(|e| now_s < e.created_s.saturating_add(lifetime));
    }

    /// The live PMKSA for an AA and AKM: its PMKID goes into the association request.
    pub fn get(&self, aa: &MacAddr, akm: Akm, now_s: u64) -> Option<&PmksaEntry> {
        self.entries
            .iter()
            .find(|e| e.aa == *aa && e.akm == akm && !self.expired(e, now_s))
    }

    /// The live PMKSA that message 1's PMKID names, only if it is for this AA and AKM (a
    /// PMKID from another network or AKM is never accepted).
    pub fn find(&self, aa: &MacAddr, akm: Akm, pmkid: &Pmkid, now_s: u64) -> Option<&PmksaEntry> {
        self.get(aa, akm, now_s).filter(|e| e.pmkid == *pmkid)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn pmk(b: u8) -> Pmk {
        Pmk::from_bytes(&[b; 32], Akm::Ieee8021x).unwrap()
    }

    #[test]
    fn bound_to_network_and_akm_with_lifetime_and_reauth() {
        let mut c: PmksaCache<2> = PmksaCache::new();
        let aa = [2, 0, 0, 0, 0, 1];
        c.insert(aa, Akm::Ieee8021x, Pmkid([1; 16]), pmk(1), 100);
        assert!(c.find(&aa, Akm::Ieee8021x, &Pmkid([1; 16]), 100).is_some());
        assert!(c
            .find(&aa, Akm::Ieee8021xSha256, &Pmkid([1; 16]), 100)
            .is_none());
        assert!(c
            .find(&[2, 0, 0, 0, 0, 2], Akm::Ieee8021x, &Pmkid([1; 16]), 100)
            .is_none());
        assert!(c.find(&aa, Akm::Ieee8021x, &Pmkid([2; 16]), 100).is_none());
        let e = c.get(&aa, Akm::Ieee8021x, 100).unwrap();
        assert!(!c.needs_reauth(e, 100 + 30_239));
        assert!(c.needs_reauth(e, 100 + 30_240));
        assert!(c.get(&aa, Akm::Ieee8021x, 100 + 43_199).is_some());
        assert!(c.get(&aa, Akm::Ieee8021x, 100 + 43_200).is_none());
        c.expire(100 + 43_200);
        assert!(c.is_empty());
    }

    #[test]
    fn bounded_oldest_evicted_and_same_network_replaced() {
        let mut c: PmksaCache<2> = PmksaCache::with_policy(1000, 50);
        c.insert([1; 6], Akm::Ieee8021x, Pmkid([1; 16]), pmk(1), 10);
        c.insert([2; 6], Akm::Ieee8021x, Pmkid([2; 16]), pmk(2), 20);
        c.insert([1; 6], Akm::Ieee8021x, Pmkid([3; 16]), pmk(3), 30);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.get(&[1; 6], Akm::Ieee8021x, 30).unwrap().pmkid,
            Pmkid([3; 16])
        );
        c.insert([3; 6], Akm::Ieee8021x, Pmkid([4; 16]), pmk(4), 40);
        assert_eq!(c.len(), 2);
        assert!(
            c.get(&[2; 6], Akm::Ieee8021x, 40).is_none(),
            "oldest evicted"
        );
    }
}
