//! What a whole authentication costs on the board: the heap's peak (a counting wrapper around
//! the embedded-alloc heap), the stack's peak (the stack painted with a pattern at boot, the
//! deepest overwritten word found later) and the time spent inside the supplicant's calls in
//! SysTick ticks (instructions under QEMU `-icount shift=0`). Reported, never acted on.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

/// The embedded-alloc heap, remembering the most bytes ever in use at once.
pub struct PeakHeap {
    heap: LlffHeap,
    peak: AtomicUsize,
}

impl PeakHeap {
    /// An uninitialised heap (see [`Self::init`]).
    pub const fn empty() -> Self {
        PeakHeap {
            heap: LlffHeap::empty(),
            peak: AtomicUsize::new(0),
        }
    }

    /// Hands the heap its memory.
    ///
    /// # Safety
    /// As `LlffHeap::init`: called once, before the first allocation, with memory used for
    /// nothing else.
    pub unsafe fn init(&self, start: usize, size: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.heap.init(start, size) }
    }

    /// Bytes in use now.
    pub fn used(&self) -> usize {
        self.heap.used()
    }

    /// The most bytes in use at once since boot.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

// `realloc` is the default (allocate, copy, free), so a moved block counts twice at its peak,
// as it really is in memory for that moment.
unsafe impl GlobalAlloc for PeakHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { self.heap.alloc(layout) };
        self.peak.fetch_max(self.heap.used(), Ordering::Relaxed);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

/// Bytes of stack painted below the stack pointer at boot (the board has 4 MiB of RAM and the
/// stack at its top, far above .bss).
const STACK_PROBE: usize = 64 * 1024;
/// Kept unpainted below the painter's own stack pointer, for its frame.
const PAINT_MARGIN: usize = 256;
const PAINT: u32 = 0xa5a5_a5a5;

extern "C" {
    /// The initial stack pointer (cortex-m-rt's link.x: the top of RAM).
    static _stack_start: u32;
}

/// The painted stack.
pub struct Stack {
    low: usize,
    top: usize,
    /// Depth of the stack when painted, from its top: `main`'s own frame (with LTO it holds
    /// whatever was inlined into `main`, temporaries of the supplicant's calls included).
    pub base: usize,
}

impl Stack {
    /// Paints the `STACK_PROBE` bytes below the current stack pointer (less a margin for this
    /// function) with a pattern. Call first thing in `main`.
    #[inline(never)]
    pub fn paint() -> Self {
        let sp = cortex_m::register::msp::read() as usize;
        let low = sp - STACK_PROBE;
        let mut p = low;
        while p < sp - PAINT_MARGIN {
            // SAFETY: unused RAM below the live stack, inside the RAM region of memory.x.
            unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
        // Only the symbol's address is taken (no read).
        let top = core::ptr::addr_of!(_stack_start) as usize;
        Stack {
            low,
            top,
            base: top.saturating_sub(sp),
        }
    }

    /// The deepest the stack has been since boot, in bytes from its top (including `main`'s
    /// own frame and interrupt handlers).
    pub fn peak(&self) -> usize {
        let mut p = self.low;
        // SAFETY: the RAM `paint` wrote (or the live stack above it).
        while p < self.top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        self.top - p
    }
}

extern "C" {
    /// Start of .data, the first of the image's static RAM sections (cortex-m-rt's link.x).
    static __sdata: u32;
    /// End of .uninit, the last of them.
    static __euninit: u32;
}

/// The image's static RAM in bytes (.data + .bss + .uninit; the heap's arena is in .bss), from
/// the linker's symbols, so the image reports what it was linked with.
pub fn static_ram() -> usize {
    // Only the symbols' addresses are taken (no read).
    let start = core::ptr::addr_of!(__sdata) as usize;
    let end = core::ptr::addr_of!(__euninit) as usize;
    end.saturating_sub(start)
}

/// Time spent inside the supplicant's calls.
#[derive(Default)]
pub struct Cost {
    /// SysTick ticks inside `start`/`handle_frame`/`poll` (sending frames included).
    pub ticks: u64,
    /// The longest single call, in ticks: how long the loop is blind to input and timers.
    pub longest: u64,
    /// Calls made.
    pub calls: u32,
}

impl Cost {
    /// Runs `f`, adding its duration.
    ///
    /// Never inlined, so each supplicant call runs in a frame of its own: inlined into `main`
    /// (LTO would), the supplicant's locals stayed in `main`'s frame for the whole run
    /// (5.9 KB of the stack peak).
    #[inline(never)]
    pub fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t0 = crate::board::now_ticks();
        let out = f();
        let spent = crate::board::now_ticks().saturating_sub(t0);
        self.ticks = self.ticks.saturating_add(spent);
        self.longest = self.longest.max(spent);
        self.calls = self.calls.saturating_add(1);
        out
    }
}
