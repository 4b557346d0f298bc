//! Random power cuts across random slot-table histories: install (renewals included), archive,
//! restore, purge, time-floor raises and self-renewal (a pending key started, the issued
//! certificate installed over it, or the renewal abandoned), each followed by commits that lose power at a random
//! erase page or write unit of the fake NOR flash. After every reboot the table that loads is
//! one of the two committed states (before or after the operation; after, whenever the commit
//! reported success), and selection on it obeys every rule.
//!
//! Seeded: `LATCHKEY_POWER_CUT_SEED` (default fixed) picks the run; `LATCHKEY_POWER_CUTS`
//! (default 2 000) is the least number of power cuts the run must reach, e.g.
//! `LATCHKEY_POWER_CUTS=10000 cargo nextest run -p latchkey-core power_cuts`.

extern crate std;

use alloc::vec::Vec;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::super::testutil::{ca_subject, CertSpec, Eku, Made, MockFlash};
use super::*;
use crate::certs::table::PendingKey;
use crate::certs::{
    KeyRef, SelectErrorKind, SelectionContext, SignatureScheme, SlotIndex, SlotState, TimeSource,
};

type Table = SlotTable<4, 1024>;
const LAYOUT: FlashLayout = FlashLayout {
    region_a: 0,
    region_b: 4096,
    region_size: 4096,
};
const DEFAULT_CUTS: usize = 2_000;
const DEFAULT_SEED: u64 = 0x4c4b_5043_5554_0001;
/// Operations per history; every one has at least one interrupted commit.
const MIN_OPS: usize = 4;
const MAX_OPS: usize = 12;

fn env_usize(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ymd(y: i32, m: u8, d: u8) -> u64 {
    rcgen::date_time_ymd(y, m, d).unix_timestamp() as u64
}

/// The certificate pool: three renewals of "dev-a", two of "dev-b" (one from another CA), one
/// with a P-384 key, one server-only certificate, one expired by 2031, one not valid before
/// 2031, and one with an RSA-2048 key (inline keys of every type, or handles).
fn pool() -> &'static [Made] {
    static POOL: OnceLock<Vec<Made>> = OnceLock::new();
    POOL.get_or_init(|| {
        Vec::from([
            CertSpec::new("dev-a").make(),
            CertSpec::new("dev-a").make(),
            CertSpec::new("dev-a").make(),
            CertSpec::new("dev-b").make(),
            CertSpec::new("dev-b").issuer(1).make(),
            CertSpec::new("dev-c").p384().make(),
            CertSpec::new("dev-d").eku(Eku::Server).make(),
            CertSpec::new("dev-a")
                .validity((2020, 1, 1), (2031, 1, 1))
                .make(),
            CertSpec::new("dev-e")
                .validity((2031, 1, 1), (2045, 1, 1))
                .make(),
            CertSpec::new("dev-f").rsa().make(),
        ])
    })
}

#[derive(Debug, Clone)]
enum Op {
    /// Install pool certificate `cert` (a renewal when its identity is already active).
    Install {
        cert: usize,
        by_handle: bool,
    },
    Archive(usize),
    Restore(usize),
    Remove(usize),
    Purge,
    RaiseFloor(u64),
    /// Start renewing slot `of` with pool certificate `key`'s key as the pending key.
    StartRenewal {
        of: usize,
        key: usize,
    },
    /// Install pool certificate `cert` as the renewal, or (`matching`) the one whose key is
    /// pending.
    InstallRenewal {
        matching: bool,
        cert: usize,
    },
    Abandon,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..10usize, any::<bool>()).prop_map(|(cert, by_handle)| Op::Install { cert, by_handle }),
        2 => (0..4usize).prop_map(Op::Archive),
        2 => (0..4usize).prop_map(Op::Restore),
        1 => (0..4usize).prop_map(Op::Remove),
        1 => Just(Op::Purge),
        2 => (ymd(2019, 1, 1)..ymd(2050, 1, 1)).prop_map(Op::RaiseFloor),
        3 => (0..4usize, 0..10usize).prop_map(|(of, key)| Op::StartRenewal { of, key }),
        3 => (prop::bool::weighted(0.8), 0..10usize).prop_map(|(matching, cert)| Op::InstallRenewal { matching, cert }),
        1 => Just(Op::Abandon),
    ]
}

/// Apply `op`; a refused operation leaves the table as it was (and that is committed too).
fn apply(t: &mut Table, op: &Op, renewals: &mut usize) {
    match *op {
        Op::Install { cert, by_handle } => {
            let c = &pool()[cert];
            // Builds without RSA or P-384 keep those certificates by handle.
            let inline_ok = InlineKey::from_pkcs8_der(&c.pkcs8).is_ok();
            let key = if by_handle || !inline_ok {
                KeyRef::Handle(0x100 + cert as u32)
            } else {
                c.key_ref()
            };
            let archived_before = t
                .list()
                .filter(|s| s.state() == SlotState::Archived)
                .count();
            let before = t.clone();
            if t.install(&c.der, key).is_ok() {
                let archived = t
                    .list()
                    .filter(|s| s.state() == SlotState::Archived)
                    .count();
                // A renewal archived its predecessor (and no slot was reclaimed to do it).
                if archived > archived_before && t.list().count() > before.list().count() {
                    *renewals += 1;
                }
            } else {
                assert_eq!(t, &before, "a refused install changed the table");
            }
        }
        Op::Archive(i) => {
            let _ = t.archive(SlotIndex::new(i));
        }
        Op::Restore(i) => {
            let _ = t.restore(SlotIndex::new(i));
        }
        Op::Remove(i) => {
            let _ = t.remove(SlotIndex::new(i));
        }
        Op::Purge => {
            t.purge_archived();
        }
        Op::RaiseFloor(f) => {
            t.observe_time(f);
        }
        Op::StartRenewal { of, key } => {
            let before = t.clone();
            let Ok(k) = InlineKey::from_pkcs8_der(&pool()[key].pkcs8) else {
                return;
            };
            if t.start_renewal_with_key(SlotIndex::new(of), k).is_err() {
                assert_eq!(t, &before, "a refused renewal start changed the table");
            }
        }
        Op::InstallRenewal { matching, cert } => {
            let cert = if matching {
                let Some(p) = &t.pending else { return };
                pool()
                    .iter()
                    .position(|c| {
                        InlineKey::from_pkcs8_der(&c.pkcs8)
                            .is_ok_and(|k| PendingKey::Inline(k) == p.key)
                    })
                    .unwrap_or(cert)
            } else {
                cert
            };
            let before = t.clone();
            if t.install_renewal(&pool()[cert].der, &[]).is_ok() {
                *renewals += 1;
                SELF_RENEWALS.fetch_add(1, Ordering::Relaxed);
                assert!(t.pending.is_none());
            } else {
                assert_eq!(t, &before, "a refused renewal install changed the table");
            }
        }
        Op::Abandon => {
            t.abandon_renewal();
        }
    }
}

/// Selection, checked against the rules written out here: the winner is active, in validity
/// for the time given, allows client authentication and has a usable scheme, and no other
/// such slot has a higher (issuer named by the CA hints, enrollment, notBefore), nor an equal
/// one at a lower index; with no winner, no slot qualifies, and "only archived match" exactly when an
/// archived slot would have.
fn check_selection(t: &Table) {
    let cas = [ca_subject(0), ca_subject(1)];
    let hint0: [&[u8]; 1] = [&cas[0]];
    let hint1: [&[u8]; 1] = [&cas[1]];
    let p256 = [SignatureScheme::ECDSA_NISTP256_SHA256];
    let both = [
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::ECDSA_NISTP384_SHA384,
    ];
    let times = [
        TimeSource::Unknown,
        TimeSource::Floor(t.time_floor()),
        TimeSource::Wall(ymd(2030, 6, 1)),
        TimeSource::Wall(ymd(2035, 6, 1)),
    ];
    let hints: [&[&[u8]]; 3] = [&[], &hint0, &hint1];
    let schemes: [&[SignatureScheme]; 2] = [&p256, &both];
    for time in times {
        for acceptable_cas in hints {
            for schemes in schemes {
                let ctx = SelectionContext {
                    time,
                    acceptable_cas,
                    schemes,
                };
                check_one(t, &ctx);
            }
        }
    }
}

fn qualifies(info: &crate::certs::SlotInfo<'_>, ctx: &SelectionContext<'_>) -> bool {
    let m = info.metadata();
    let (now, wall) = match ctx.time {
        TimeSource::Wall(t) => (Some(t), true),
        TimeSource::Floor(t) => (Some(t), false),
        TimeSource::Unknown => (None, false),
    };
    let expired = now.is_some_and(|t| t > m.not_after());
    let not_yet = wall && now.is_some_and(|t| t < m.not_before());
    !expired
        && !not_yet
        && m.extended_key_usage().permits_client_auth()
        && ctx.schemes.iter().any(|s| s.usable_with(m.key_algorithm()))
}

/// Whether the server's CA hints name the slot's issuer (they rank, never veto).
fn named(info: &crate::certs::SlotInfo<'_>, ctx: &SelectionContext<'_>) -> bool {
    ctx.acceptable_cas.is_empty()
        || ctx
            .acceptable_cas
            .iter()
            .any(|h| info.issuer().matches_hint(h))
}

fn check_one(t: &Table, ctx: &SelectionContext<'_>) {
    let eligible: Vec<_> = t
        .list()
        .filter(|s| s.state() == SlotState::Active && qualifies(s, ctx))
        .collect();
    let best = eligible
        .iter()
        .max_by(|a, b| {
            (
                named(a, ctx),
                a.enrollment(),
                a.metadata().not_before(),
                core::cmp::Reverse(a.index()),
            )
                .cmp(&(
                    named(b, ctx),
                    b.enrollment(),
                    b.metadata().not_before(),
                    core::cmp::Reverse(b.index()),
                ))
        })
        .map(|s| s.index());
    match t.select(ctx) {
        Ok(sel) => {
            assert_eq!(
                t.state(sel.index()),
                Some(SlotState::Active),
                "a non-active slot was selected"
            );
            assert_eq!(Some(sel.index()), best, "{ctx:?}");
        }
        Err(e) => {
            assert_eq!(best, None, "a qualifying slot was not selected: {ctx:?}");
            let archived_match = t
                .list()
                .any(|s| s.state() == SlotState::Archived && qualifies(&s, ctx));
            assert_eq!(
                e.kind() == SelectErrorKind::OnlyArchivedMatch,
                archived_match,
                "{:?} {ctx:?}",
                e.kind()
            );
            if t.list().count() == 0 {
                assert_eq!(e.kind(), SelectErrorKind::NoCertificates);
            }
        }
    }
}

static CUTS: AtomicUsize = AtomicUsize::new(0);
static RENEWALS: AtomicUsize = AtomicUsize::new(0);
/// Renewal certificates installed over a pending key (counted once per history step applied,
/// redone steps included).
static SELF_RENEWALS: AtomicUsize = AtomicUsize::new(0);

/// Commit `new` over `flash` (whose table loads as `old`), with the power failing after
/// `cut` units if that is less than the commit needs; returns the table that loads after.
fn commit_with_cut(flash: &mut MockFlash<4>, old: &Table, new: &Table, cut: Option<u64>) -> Table {
    let mut dry = flash.clone();
    dry.units = 0;
    new.commit(&mut dry, &LAYOUT).unwrap();
    let total = dry.units;
    let budget = cut.map(|c| (c % (total as u64 + 1)) as usize);
    flash.budget = budget;
    let result = new.commit(flash, &LAYOUT);
    flash.budget = None;
    if budget.is_some_and(|b| b < total) {
        CUTS.fetch_add(1, Ordering::Relaxed);
        assert!(result.is_err(), "commit succeeded without power");
    } else {
        assert_eq!(result.map(|_| ()), Ok(()));
    }
    let (loaded, _) = Table::load(flash, &LAYOUT).unwrap();
    assert!(
        &loaded == old || &loaded == new,
        "cut at {budget:?} of {total} units: the loaded table is neither the old nor the new one"
    );
    if result.is_ok() {
        assert!(&loaded == new, "a successful commit is not what loads");
    }
    assert!(!flash.wrote_unerased);
    check_selection(&loaded);
    loaded
}

fn history(ops: &[(Op, u64, u64)]) {
    let mut flash = MockFlash::<4>::new(8192);
    let mut committed = Table::new();
    let mut renewals = 0;
    for (op, first_cut, second_cut) in ops {
        let mut new = committed.clone();
        apply(&mut new, op, &mut renewals);
        check_selection(&new);
        // First attempt: the power fails at a random unit strictly inside the commit.
        let mut dry = flash.clone();
        dry.units = 0;
        new.commit(&mut dry, &LAYOUT).unwrap();
        let inside = first_cut % dry.units as u64;
        let loaded = commit_with_cut(&mut flash, &committed, &new, Some(inside));
        // After the reboot the device redoes the operation on what loaded: a second attempt
        // at a random unit (or complete), then one with the power on.
        let mut redo = loaded.clone();
        if loaded != new {
            apply(&mut redo, op, &mut 0);
            assert!(redo == new, "the same operation on the same table differs");
        }
        let loaded = commit_with_cut(&mut flash, &loaded, &redo, Some(*second_cut));
        committed = commit_with_cut(&mut flash, &loaded, &redo, None);
        assert!(committed == new);
    }
    RENEWALS.fetch_add(renewals, Ordering::Relaxed);
}

#[test]
fn random_power_cuts_leave_old_or_new_table_and_selection_obeys_the_rules() {
    let target = env_usize("LATCHKEY_POWER_CUTS", DEFAULT_CUTS as u64) as usize;
    let seed = env_usize("LATCHKEY_POWER_CUT_SEED", DEFAULT_SEED);
    let _ = pool();
    let strategy = proptest::collection::vec((op(), any::<u64>(), any::<u64>()), MIN_OPS..=MAX_OPS);
    let started = std::time::Instant::now();
    // Batches of histories until the run has cut the power `target` times; batch k uses seed
    // + k, so a run is the same for the same seed and target. A history cuts the power about
    // twice per operation; each batch is sized for the cuts still missing.
    let mut histories = 0u32;
    let mut batch = 0u64;
    loop {
        let cuts = CUTS.load(Ordering::Relaxed);
        if cuts >= target {
            break;
        }
        let cases = ((target - cuts) / (MIN_OPS + MAX_OPS)).max(1) as u32;
        let batch_seed = seed.wrapping_add(batch);
        let config = Config {
            cases,
            rng_seed: RngSeed::Fixed(batch_seed),
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let result = runner.run(&strategy, |ops| {
            history(&ops);
            Ok(())
        });
        if let Err(e) = result {
            panic!("seed {batch_seed:#x} (run seed {seed:#x}, batch {batch}): {e}");
        }
        histories += cases;
        batch += 1;
    }
    let cuts = CUTS.load(Ordering::Relaxed);
    let renewals = RENEWALS.load(Ordering::Relaxed);
    let self_renewals = SELF_RENEWALS.load(Ordering::Relaxed);
    std::println!(
        "{cuts} power cuts in {histories} random histories (seed {seed:#x}, {renewals} \
         renewals, {self_renewals} of them installed over a pending key), {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(cuts >= target, "{cuts} power cuts, fewer than {target}");
    assert!(renewals > 0, "no renewal in the run");
    assert!(self_renewals > 0, "no self-renewal in the run");
}
