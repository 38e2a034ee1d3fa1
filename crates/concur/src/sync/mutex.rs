//! [`Mutex`]: a named mutual-exclusion lock that refuses acquisitions that could deadlock.
//!
//! It wraps `std::sync::Mutex` and adds the checks of [`wait_for`](super::wait_for) around it:
//! the order check before any blocking, the held-lock stack, and the waiting mark while blocked
//! on a contended lock. Everything else (fairness, parking) is the standard library's.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, TryLockError};

use super::wait_for::{self, Deadlock, LockInfo};

/// A mutex with a name, whose [`lock`](Mutex::lock) returns [`Deadlock`] instead of hanging.
///
/// ```
/// use concur::sync::Mutex;
///
/// let a = Mutex::new("a", 0);
/// let b = Mutex::new("b", 0);
/// {
///     let _ga = a.lock().unwrap();
///     let _gb = b.lock().unwrap(); // a, then b: recorded
/// }
/// let _gb = b.lock().unwrap();
/// let refused = a.lock().unwrap_err(); // b, then a: could deadlock with the above
/// assert_eq!(refused.wanted, "a");
/// assert!(refused.to_string().contains("`b` -> `a` -> `b`"));
/// ```
pub struct Mutex<T: ?Sized> {
    info: Arc<LockInfo>,
    inner: std::sync::Mutex<T>,
}

/// Proof of holding a [`Mutex`]; unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    info: &'a LockInfo,
    guard: std::sync::MutexGuard<'a, T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex called `name` (the name appears in deadlock reports).
    pub fn new(name: &str, value: T) -> Mutex<T> {
        Mutex {
            info: wait_for::register(name),
            inner: std::sync::Mutex::new(value),
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// The name given to [`new`](Mutex::new).
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Locks, blocking while another thread holds it; refuses with [`Deadlock`], without
    /// blocking, if this thread already holds it or if taking it now closes a cycle of lock orders
    /// (see the [module docs](crate::sync)). A lock whose holder panicked is handed over as it is.
    pub fn lock(&self) -> Result<MutexGuard<'_, T>, Deadlock> {
        wait_for::before_lock(&self.info)?;
        let guard = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                wait_for::start_waiting(&self.info);
                let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                wait_for::stop_waiting();
                guard
            }
        };
        wait_for::acquired(&self.info);
        Ok(MutexGuard {
            info: &self.info,
            guard,
        })
    }

    /// Locks if that needs no waiting; `None` if another thread (or this one) holds it. Never
    /// blocks, so it adds no lock orders.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let guard = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        wait_for::acquired(&self.info);
        Some(MutexGuard {
            info: &self.info,
            guard,
        })
    }

    /// The protected value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: ?Sized> Drop for Mutex<T> {
    fn drop(&mut self) {
        wait_for::unregister(self.info.id);
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        wait_for::released(self.info);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
