//! The deadlock-detecting Mutex: the classic two threads / two locks / opposite order is refused
//! in exactly one thread, before it hangs, naming locks and threads; a global order never is.

use std::sync::{Arc, Barrier, OnceLock};
use std::thread;

use concur::sync::{self, Deadlock, Mutex};

/// Runs `first` then `second` in a thread called `name`, after both threads hold their first lock.
fn take_in_order(
    name: &str,
    first: Arc<Mutex<u32>>,
    second: Arc<Mutex<u32>>,
    both_hold_one: Arc<Barrier>,
) -> thread::JoinHandle<Result<(), Deadlock>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut g1 = first.lock()?;
            both_hold_one.wait();
            let mut g2 = second.lock()?;
            *g1 += 1;
            *g2 += 1;
            Ok(())
        })
        .unwrap()
}

#[test]
fn opposite_orders_deadlock_is_refused_in_one_thread_and_the_other_finishes() {
    let a = Arc::new(Mutex::new("account-a", 0));
    let b = Arc::new(Mutex::new("account-b", 0));
    let barrier = Arc::new(Barrier::new(2));
    let t1 = take_in_order("transfer-1", a.clone(), b.clone(), barrier.clone());
    let t2 = take_in_order("transfer-2", b.clone(), a.clone(), barrier);
    let outcomes = [t1.join().unwrap(), t2.join().unwrap()];
    let refused: Vec<&Deadlock> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    let d = refused[0];
    // The refused thread holds one lock and asks for the other, which the other thread holds.
    let (mine, theirs, other) = if d.thread == "transfer-1" {
        ("account-a", "account-b", "transfer-2")
    } else {
        ("account-b", "account-a", "transfer-1")
    };
    assert_eq!(d.wanted, theirs);
    assert_eq!(d.cycle.len(), 2);
    assert_eq!(
        (d.cycle[0].held.as_str(), d.cycle[0].acquired.as_str()),
        (mine, theirs)
    );
    assert_eq!(d.cycle[1].thread, other);
    assert!(
        d.holders
            .contains(&(mine.to_string(), Some(d.thread.clone()))),
        "{d}"
    );
    assert!(
        d.holders
            .contains(&(theirs.to_string(), Some(other.to_string()))),
        "{d}"
    );
    let text = d.to_string();
    assert!(
        text.contains(&format!("thread `{}` asked for lock `{theirs}`", d.thread)),
        "{text}"
    );
    // The survivor got both locks: each counter was bumped once.
    let total = *a.lock().unwrap();
    assert_eq!(total + *b.lock().unwrap(), 2);
    // The survivor's order is on record and stays allowed; the refused one stays refused.
    let (m, t) = if mine == "account-a" {
        (&a, &b)
    } else {
        (&b, &a)
    };
    {
        let _gt = t.lock().unwrap();
        assert!(m.lock().is_ok());
    }
    let _gm = m.lock().unwrap();
    assert!(t.lock().is_err());
}

#[test]
fn a_global_lock_order_is_never_refused() {
    let a = Arc::new(Mutex::new("ordered-a", 0));
    let b = Arc::new(Mutex::new("ordered-b", 0));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                for _ in 0..200 {
                    let mut ga = a.lock()?;
                    let mut gb = b.lock()?;
                    *ga += 1;
                    *gb += i;
                }
                Ok::<(), Deadlock>(())
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(*a.lock().unwrap(), 800);
}

#[test]
fn a_potential_deadlock_is_refused_even_without_overlap() {
    let x = Mutex::new("x", ());
    let y = Mutex::new("y", ());
    let z = Mutex::new("z", ());
    {
        let _gx = x.lock().unwrap();
        let _gy = y.lock().unwrap();
    }
    {
        let _gy = y.lock().unwrap();
        let _gz = z.lock().unwrap();
    }
    let _gz = z.lock().unwrap();
    let d = x.lock().unwrap_err();
    let chain: Vec<(&str, &str)> = d
        .cycle
        .iter()
        .map(|e| (e.held.as_str(), e.acquired.as_str()))
        .collect();
    assert_eq!(chain, [("z", "x"), ("x", "y"), ("y", "z")]);
    assert!(d.to_string().contains("`z` -> `x` -> `y` -> `z`"), "{d}");
    drop(_gz);
    // Refused orders are not recorded: x alone is still fine, and so is the accepted order.
    let _gx = x.lock().unwrap();
    let _gy = y.lock().unwrap();
}

#[test]
fn locking_twice_in_one_thread_is_refused_and_try_lock_never_blocks() {
    let m = Mutex::new("reentrant", 1);
    let g = m.lock().unwrap();
    let d = m.lock().unwrap_err();
    assert_eq!(d.wanted, "reentrant");
    assert_eq!(d.cycle.len(), 1);
    assert!(m.try_lock().is_none());
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 1);
    assert_eq!(m.name(), "reentrant");
}

#[test]
fn dropping_a_lock_forgets_its_orders() {
    let p = Mutex::new("p", ());
    {
        let q = Mutex::new("q", ());
        let _gp = p.lock().unwrap();
        let _gq = q.lock().unwrap();
    }
    let q2 = Mutex::new("q", ());
    let _gq = q2.lock().unwrap();
    assert!(
        p.lock().is_ok(),
        "a new lock with an old name has no history"
    );
}

#[test]
fn the_handler_sees_every_report_and_may_take_locks() {
    static LOG: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let log = || LOG.get_or_init(|| Mutex::new("log", Vec::new()));
    // Other tests in this binary run at the same time; count only this test's lock.
    sync::set_deadlock_handler(move |d| {
        if d.wanted == "handled" {
            log().lock().unwrap().push(d.to_string());
        }
    });
    let m = Mutex::new("handled", ());
    let _g = m.lock().unwrap();
    assert!(m.lock().is_err());
    assert!(m.lock().is_err());
    sync::clear_deadlock_handler();
    assert!(m.lock().is_err());
    drop(_g);
    let seen = log().lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].contains("asked for lock `handled`"), "{}", seen[0]);
}

#[test]
fn a_poisoned_lock_is_handed_over() {
    let m = Arc::new(Mutex::new("poisoned", 5));
    let m2 = m.clone();
    let _ = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("holder died");
    })
    .join();
    assert_eq!(*m.lock().unwrap(), 5);
}
