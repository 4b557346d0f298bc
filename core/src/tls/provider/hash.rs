//! SHA-256 and SHA-384 as rustls' transcript hash (`crypto::hash::Hash`), over RustCrypto `sha2`.
//! These are the only two hashes the provider's cipher suites use (RFC 8446 §B.4, RFC 5289).

use alloc::boxed::Box;
use core::marker::PhantomData;

use rustls::crypto::hash::{Context, Hash, HashAlgorithm, Output};
use sha2::Digest;

/// rustls' `Hash` over one RustCrypto digest `D`.
pub(crate) struct Sha2Hash<D> {
    alg: HashAlgorithm,
    // `fn() -> D` keeps the type `Send + Sync` whatever `D` is; no `D` is stored.
    _digest: PhantomData<fn() -> D>,
}

/// SHA-256 for the `*_SHA256` suites.
pub(crate) static SHA256: Sha2Hash<sha2::Sha256> = Sha2Hash {
    alg: HashAlgorithm::SHA256,
    _digest: PhantomData,
};

/// SHA-384 for the `*_SHA384` suites.
pub(crate) static SHA384: Sha2Hash<sha2::Sha384> = Sha2Hash {
    alg: HashAlgorithm::SHA384,
    _digest: PhantomData,
};

impl<D> Hash for Sha2Hash<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn start(&self) -> Box<dyn Context> {
        Box::new(Sha2Context(D::new()))
    }

    fn hash(&self, data: &[u8]) -> Output {
        Output::new(&D::digest(data))
    }

    fn output_len(&self) -> usize {
        <D as Digest>::output_size()
    }

    fn algorithm(&self) -> HashAlgorithm {
        self.alg
    }
}

/// A running transcript hash.
struct Sha2Context<D>(D);

impl<D> Context for Sha2Context<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn fork_finish(&self) -> Output {
        Output::new(&self.0.clone().finalize())
    }

    fn fork(&self) -> Box<dyn Context> {
        Box::new(Sha2Context(self.0.clone()))
    }

    fn finish(self: Box<Self>) -> Output {
        Output::new(&self.0.finalize())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // FIPS 180-2 appendix B.1 / D.1: "abc".
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_SHA384: &str = "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                              8086072ba1e7cc2358baeca134c825a7";

    fn hex(bytes: &[u8]) -> alloc::string::String {
        bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
    }

    #[test]
    fn one_shot_and_streaming_hashes_match_fips_180_vectors() {
        assert_eq!(hex(SHA256.hash(b"abc").as_ref()), ABC_SHA256);
        assert_eq!(hex(SHA384.hash(b"abc").as_ref()), ABC_SHA384);
        let mut ctx = SHA384.start();
        ctx.update(b"a");
        let fork = ctx.fork();
        ctx.update(b"bc");
        assert_eq!(hex(ctx.fork_finish().as_ref()), ABC_SHA384);
        assert_eq!(hex(ctx.finish().as_ref()), ABC_SHA384);
        assert_eq!(
            hex(fork.finish().as_ref()),
            hex(&sha2::Sha384::digest(b"a"))
        );
        assert_eq!(SHA256.output_len(), 32);
        assert_eq!(SHA384.output_len(), 48);
    }
}
