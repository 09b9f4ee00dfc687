//! Encryption at rest: AES-256-GCM (ring) under the application's key, and keyed token fingerprints.
//!
//! A sealed token is `0x01 ‖ key id (4 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, with the record's
//! environment and client id as associated data: a sealed token copied into another record does not open.
//! A plaintext token (only with [`Sealer::plaintext`], the explicit opt-in) is `0x00 ‖ UTF-8 text`.
//! Key rotation: [`Sealer::with_previous_keys`] opens what older keys sealed, and
//! [`Sealer::needs_reseal`] says which records to write again under the current key.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::{CredentialKey, StoreError};
use crate::secret::SecretToken;

/// The environment variable holding the store key: base64 of 32 random bytes
/// (`openssl rand -base64 32`, or `confirma credentials keygen`).
pub const KEY_ENV: &str = "CONFIRMA_STORE_KEY";

/// The environment variable holding previous store keys (comma-separated base64) during a key rotation.
pub const PREVIOUS_KEYS_ENV: &str = "CONFIRMA_STORE_PREVIOUS_KEYS";

const SEALED_AES: u8 = 0x01;
const PLAIN: u8 = 0x00;
const KEY_ID_LEN: usize = 4;

/// A 256-bit store key. Never printed; wiped on drop.
#[derive(Clone)]
pub struct StoreKey {
    bytes: Zeroizing<[u8; 32]>,
    id: [u8; KEY_ID_LEN],
}

impl StoreKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &bytes), b"confirma store key id v1");
        let mut id = [0u8; KEY_ID_LEN];
        for (d, s) in id.iter_mut().zip(tag.as_ref()) {
            *d = *s;
        }
        StoreKey { bytes: Zeroizing::new(bytes), id }
    }

    /// A key from base64 (standard or URL-safe alphabet, padded or not) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let decoded = engines
            .iter()
            .find_map(|e| e.decode(text).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| StoreError::Crypto("the store key is not base64".into()))?;
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| {
            StoreError::Crypto(format!(
                "the store key must be 32 bytes (base64 of 32 random bytes), not {}",
                decoded.len()
            ))
        })?;
        Ok(StoreKey::from_bytes(bytes))
    }

    /// The key in [`KEY_ENV`], if set (an empty variable counts as unset).
    pub fn from_env() -> Result<Option<Self>, StoreError> {
        match std::env::var(KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => StoreKey::from_base64(&v).map(Some),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::Crypto(format!("{KEY_ENV} is not valid text"))),
        }
    }

    /// The previous keys in [`PREVIOUS_KEYS_ENV`] (comma-separated base64), for key rotation: tokens sealed
    /// under them still open, and are re-sealed under the current key when loaded.
    pub fn previous_from_env() -> Result<Vec<Self>, StoreError> {
        match std::env::var(PREVIOUS_KEYS_ENV) {
            Ok(v) => v.split(',').filter(|p| !p.trim().is_empty()).map(StoreKey::from_base64).collect(),
            Err(std::env::VarError::NotPresent) => Ok(Vec::new()),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(StoreError::Crypto(format!("{PREVIOUS_KEYS_ENV} is not valid text")))
            }
        }
    }

    /// A new random key.
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| StoreError::Crypto("no randomness available".into()))?;
        let key = StoreKey::from_bytes(bytes);
        bytes.fill(0);
        Ok(key)
    }

    /// The key as standard base64 (to put into [`KEY_ENV`]).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.bytes.as_slice()))
    }

    /// A short public identifier of the key (hex), stored with each sealed token.
    pub fn id(&self) -> String {
        hex(&self.id)
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreKey(id={})", self.id())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seals and opens tokens for a store, and fingerprints them.
#[derive(Clone)]
pub struct Sealer {
    current: Option<StoreKey>,
    previous: Vec<StoreKey>,
    fingerprint_key: hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("current", &self.current).field("previous", &self.previous).finish()
    }
}

impl Sealer {
    /// Encrypts under `key`.
    pub fn encrypted(key: StoreKey) -> Self {
        let fp = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.bytes.as_slice()), b"confirma fingerprint v1");
        Sealer {
            fingerprint_key: hmac::Key::new(hmac::HMAC_SHA256, fp.as_ref()),
            current: Some(key),
            previous: Vec::new(),
        }
    }

    /// Stores tokens in clear: only when the application opts in explicitly (status then says so).
    pub fn plaintext() -> Self {
        Sealer {
            fingerprint_key: hmac::Key::new(hmac::HMAC_SHA256, b"confirma fingerprint v1 (no store key)"),
            current: None,
            previous: Vec::new(),
        }
    }

    /// The key from [`KEY_ENV`]; without one, plaintext only if `allow_plaintext`, else a
    /// [`StoreError::Crypto`] that says how to set a key.
    pub fn from_env(allow_plaintext: bool) -> Result<Self, StoreError> {
        match StoreKey::from_env()? {
            Some(k) => Ok(Sealer::encrypted(k).with_previous_keys(StoreKey::previous_from_env()?)),
            None if allow_plaintext => Ok(Sealer::plaintext()),
            None => Err(StoreError::Crypto(format!(
                "no store key: set {KEY_ENV} to base64 of 32 random bytes (openssl rand -base64 32), or opt into plaintext storage explicitly"
            ))),
        }
    }

    /// Also opens what these (older) keys sealed: key rotation.
    pub fn with_previous_keys(mut self, keys: impl IntoIterator<Item = StoreKey>) -> Self {
        self.previous.extend(keys);
        self
    }

    /// Whether tokens are encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.current.is_some()
    }

    /// The current key's id, if encrypting.
    pub fn key_id(&self) -> Option<String> {
        self.current.as_ref().map(StoreKey::id)
    }

    /// Seals a token for the record `key`.
    pub fn seal(&self, key: &CredentialKey, token: &SecretToken) -> Result<Vec<u8>, StoreError> {
        let Some(k) = &self.current else {
            let mut out = Vec::with_capacity(token.expose().len().saturating_add(1));
            out.push(PLAIN);
            out.extend_from_slice(token.expose().as_bytes());
            return Ok(out);
        };
        let aead = aead_key(k)?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| StoreError::Crypto("no randomness available".into()))?;
        let mut body = Zeroizing::new(token.expose().as_bytes().to_vec());
        aead.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad(key)), &mut *body)
            .map_err(|_| StoreError::Crypto("sealing failed".into()))?;
        let mut out = Vec::with_capacity(body.len().saturating_add(1 + KEY_ID_LEN + NONCE_LEN));
        out.push(SEALED_AES);
        out.extend_from_slice(&k.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a sealed token of the record `key`: a wrong key, another record's token or tampered bytes
    /// are a [`StoreError::Crypto`]; a plaintext token while a key is set opens (it is then re-sealed:
    /// see [`needs_reseal`](Self::needs_reseal)).
    pub fn open(&self, key: &CredentialKey, sealed: &[u8]) -> Result<SecretToken, StoreError> {
        match sealed.split_first() {
            Some((&PLAIN, text)) => std::str::from_utf8(text)
                .map(SecretToken::new)
                .map_err(|_| StoreError::Corrupt("a stored plaintext token is not UTF-8".into())),
            Some((&SEALED_AES, rest)) => {
                let (id, rest) = rest
                    .split_at_checked(KEY_ID_LEN)
                    .ok_or_else(|| StoreError::Corrupt("a sealed token is truncated".into()))?;
                let (nonce, body) = rest
                    .split_at_checked(NONCE_LEN)
                    .ok_or_else(|| StoreError::Corrupt("a sealed token is truncated".into()))?;
                let k = self.current.iter().chain(&self.previous).find(|k| k.id.as_slice() == id).ok_or_else(|| {
                    StoreError::Crypto(format!(
                        "the token of {key} was sealed with key {} which is not configured (wrong {KEY_ENV}?)",
                        hex(id)
                    ))
                })?;
                let nonce = Nonce::try_assume_unique_for_key(nonce)
                    .map_err(|_| StoreError::Corrupt("a sealed token has a bad nonce".into()))?;
                let mut buf = Zeroizing::new(body.to_vec());
                let plain = aead_key(k)?.open_in_place(nonce, Aad::from(aad(key)), &mut buf).map_err(|_| {
                    StoreError::Crypto(format!(
                        "the token of {key} does not open (tampered, or moved from another record)"
                    ))
                })?;
                std::str::from_utf8(plain)
                    .map(SecretToken::new)
                    .map_err(|_| StoreError::Corrupt("a sealed token is not UTF-8".into()))
            }
            Some((other, _)) => Err(StoreError::Corrupt(format!("unknown sealed-token format {other:#04x}"))),
            None => Err(StoreError::Corrupt("an empty sealed token".into())),
        }
    }

    /// Whether `sealed` should be written again: sealed under an older key, or in clear while a key is set.
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        match (&self.current, sealed.split_first()) {
            (Some(_), Some((&PLAIN, _))) => true,
            (Some(k), Some((&SEALED_AES, rest))) => rest.get(..KEY_ID_LEN) != Some(k.id.as_slice()),
            _ => false,
        }
    }

    /// A short keyed hash of a token (`fp:` and 12 hex digits): the only form of a token that is logged.
    pub fn fingerprint(&self, token: &SecretToken) -> String {
        let tag = hmac::sign(&self.fingerprint_key, token.expose().as_bytes());
        format!("fp:{}", hex(tag.as_ref().get(..6).unwrap_or_default()))
    }
}

fn aead_key(k: &StoreKey) -> Result<LessSafeKey, StoreError> {
    UnboundKey::new(&AES_256_GCM, k.bytes.as_slice())
        .map(LessSafeKey::new)
        .map_err(|_| StoreError::Crypto("bad key".into()))
}

fn aad(key: &CredentialKey) -> Vec<u8> {
    let mut a = b"confirma credential v1\0".to_vec();
    a.extend_from_slice(key.environment.as_bytes());
    a.push(0);
    a.extend_from_slice(key.client_id.as_bytes());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_bind_rotate() {
        let k1 = StoreKey::generate().unwrap();
        let k2 = StoreKey::generate().unwrap();
        let rec = CredentialKey::new("staging", "c1");
        let other = CredentialKey::new("staging", "c2");
        let token = SecretToken::new("tok_abcdefghijklmnopqrstuvwxyz012345");
        let s1 = Sealer::encrypted(k1.clone());
        let sealed = s1.seal(&rec, &token).unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"tok_abcdef"), "sealed bytes hold no token text");
        assert_eq!(s1.open(&rec, &sealed).unwrap(), token);
        assert!(s1.open(&other, &sealed).unwrap_err().to_string().contains("does not open"));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(s1.open(&rec, &tampered), Err(StoreError::Crypto(_))));
        let s2 = Sealer::encrypted(k2.clone());
        assert!(s2.open(&rec, &sealed).unwrap_err().to_string().contains("not configured"));
        let s2r = Sealer::encrypted(k2).with_previous_keys([k1.clone()]);
        assert_eq!(s2r.open(&rec, &sealed).unwrap(), token);
        assert!(s2r.needs_reseal(&sealed));
        assert!(!s1.needs_reseal(&sealed));
        let plain = Sealer::plaintext().seal(&rec, &token).unwrap();
        assert!(s1.needs_reseal(&plain));
        assert_eq!(s1.open(&rec, &plain).unwrap(), token);
        for bad in [&b""[..], &[0x01, 1, 2][..], &[0x07, 1][..]] {
            assert!(s1.open(&rec, bad).is_err());
        }
        assert_eq!(s1.fingerprint(&token), s1.fingerprint(&token.clone()));
        assert_ne!(s1.fingerprint(&token), Sealer::encrypted(k1.clone()).fingerprint(&SecretToken::new("x")));
        assert_eq!(s1.fingerprint(&token).len(), 15);
        assert!(!format!("{s1:?}{k1:?}").contains(&*k1.to_base64()));
    }

    #[test]
    fn keys_parse_strictly() {
        let k = StoreKey::generate().unwrap();
        let b64 = k.to_base64();
        assert_eq!(StoreKey::from_base64(&b64).unwrap().id(), k.id());
        assert_eq!(StoreKey::from_base64(b64.trim_end_matches('=')).unwrap().id(), k.id());
        assert!(StoreKey::from_base64("c2hvcnQ=").unwrap_err().to_string().contains("32 bytes"));
        assert!(StoreKey::from_base64("not base64 at all!").is_err());
    }
}
