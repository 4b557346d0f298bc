//! Logging facade: every supplicant event goes to `defmt` (feature `defmt`, for firmware) or
//! `log` (feature `log`, for hosts), or nowhere. Format strings use only `{}` with primitives
//! and `&str`, which both backends accept. Key material is never logged.

/// Log at info level.
macro_rules! info {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::info!($($arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::info!($($arg)*);
    }};
}

/// Log at debug level.
macro_rules! debug {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::debug!($($arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::debug!($($arg)*);
    }};
}

/// Log at warn level.
macro_rules! lk_warn {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::warn!($($arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::warn!($($arg)*);
    }};
}

pub(crate) use {debug, info, lk_warn as warn_};
