//! Which `io.berth.ports` labels berth itself wrote.
//!
//! Anyone who can build an image can put `LABEL io.berth.ports=...` in it, and every
//! container of that image inherits the label. berth must never publish such a port.
//! So at create berth adds a seal: `io.berth.seal = v1:<nonce>:<mac>`, where the nonce
//! is fresh for each container and the MAC is an HMAC-SHA256, under a key only root can
//! read (`/var/lib/berth/seal.key`), over the nonce and the ports label. A label is
//! trusted when the seal verifies, the container's image does not carry the same seal
//! (a `docker commit` of a berth container copies its labels into the image), and no
//! container created earlier carries it (a copy of a berth container's labels).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The host's sealing key.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a label is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distrust {
    /// No seal at all: not written by this berth (or by one before seals).
    Unsealed,
    /// The seal does not match the ports label under this host's key.
    BadSeal,
    /// The image carries the same seal: the label came with the image.
    FromImage,
    /// An older container carries the same seal: the label was copied.
    Copied { original: String },
}

impl std::fmt::Display for Distrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distrust::Unsealed => {
                f.write_str("its io.berth.ports label has no seal: berth did not write it")
            }
            Distrust::BadSeal => f.write_str(
                "its io.berth.ports label does not match its seal under this host's key",
            ),
            Distrust::FromImage => {
                f.write_str("its io.berth.ports label came with its image, not from berth")
            }
            Distrust::Copied { original } => {
                write!(
                    f,
                    "its io.berth.ports label is a copy of container {original}'s"
                )
            }
        }
    }
}

impl Key {
    /// Read the key, or create it (32 random bytes, mode 0600) when there is none.
    pub fn load_or_create(path: &Path) -> io::Result<Key> {
        match Key::load(path) {
            Ok(k) => return Ok(k),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        if let Some(dir) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let mut bytes = [0u8; 32];
        let mut tag = [0u8; 8];
        let mut random = fs::File::open("/dev/urandom")?;
        random.read_exact(&mut bytes)?;
        random.read_exact(&mut tag)?;
        // a name of its own, whatever another berth (or one that died at this point with
        // the same pid) left
        let tmp = path.with_extension(format!("tmp{}-{}", std::process::id(), hex(&tag)));
        {
            let mut f = fs::File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        // two berths at once: the first key in place wins, the other reads it
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        }
        let _ = fs::remove_file(&tmp);
        Key::load(path)
    }

    /// Read the key; refuse one that others may read.
    pub fn load(path: &Path) -> io::Result<Key> {
        let mut f = fs::File::open(path)?;
        let mode = f.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is readable by others (mode {:o}): berth will not use it",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
        let mut bytes = [0u8; 32];
        f.read_exact(&mut bytes)?;
        Ok(Key(bytes))
    }

    /// A key from bytes (tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    fn mac(&self, nonce: &str, ports: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"berth-seal-v1\0");
        mac.update(nonce.as_bytes());
        mac.update(b"\0");
        mac.update(ports.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The seal for a new container's ports label, with a fresh nonce.
    pub fn seal(&self, ports: &str) -> io::Result<String> {
        let mut nonce = [0u8; 16];
        fs::File::open("/dev/urandom")?.read_exact(&mut nonce)?;
        Ok(self.seal_with(&hex(&nonce), ports))
    }

    /// The seal with a given nonce.
    pub fn seal_with(&self, nonce: &str, ports: &str) -> String {
        format!("v1:{nonce}:{}", self.mac(nonce, ports))
    }

    /// Whether `seal` is this key's seal of `ports`.
    pub fn verifies(&self, seal: &str, ports: &str) -> bool {
        let mut parts = seal.split(':');
        let (Some("v1"), Some(nonce), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
        let Ok(want) = unhex(mac) else { return false };
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(b"berth-seal-v1\0");
        m.update(nonce.as_bytes());
        m.update(b"\0");
        m.update(ports.as_bytes());
        // constant time
        m.verify_slice(&want).is_ok()
    }
}

/// Judge one container's ports label. `seal` is its seal label, `image_seal` the
/// image's own seal label, `earlier` another container created before this one that
/// carries the same seal. `key` is `None` where berth cannot read the key (not root):
/// then only what needs no key is checked.
pub fn judge(
    key: Option<&Key>,
    ports: &str,
    seal: Option<&str>,
    image_seal: Option<&str>,
    earlier: Option<&str>,
) -> Result<(), Distrust> {
    let Some(seal) = seal else {
        return Err(Distrust::Unsealed);
    };
    if let Some(key) = key
        && !key.verifies(seal, ports)
    {
        return Err(Distrust::BadSeal);
    }
    if image_seal == Some(seal) {
        return Err(Distrust::FromImage);
    }
    if let Some(original) = earlier {
        return Err(Distrust::Copied {
            original: original.to_string(),
        });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn unhex(s: &str) -> Result<Vec<u8>, ()> {
    if !s.len().is_multiple_of(2) {
        return Err(());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or(())?, 16).map_err(|_| ()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: &str =
        r#"[{"proto":"tcp","container_port":80,"host_ip":"0.0.0.0","host_port":8080}]"#;

    #[test]
    fn seals_verify_only_for_their_label_and_key() {
        let key = Key::from_bytes([7; 32]);
        let seal = key.seal(PORTS).unwrap();
        assert!(key.verifies(&seal, PORTS));
        assert!(!key.verifies(&seal, &PORTS.replace("8080", "8081")));
        assert!(!Key::from_bytes([8; 32]).verifies(&seal, PORTS));
        assert!(!key.verifies("v1:zz:00", PORTS));
        assert!(!key.verifies(&format!("{seal}:x"), PORTS));
        // a seal's nonce is 32 hex digits, even under the right key and MAC
        let nonce = "0123456789abcdef0123456789abcdef";
        assert!(key.verifies(&key.seal_with(nonce, PORTS), PORTS));
        for bad in [
            "0123",
            "0123456789abcdef0123456789abcdeg",
            &format!("{nonce}0"),
        ] {
            assert!(!key.verifies(&key.seal_with(bad, PORTS), PORTS), "{bad}");
        }
        // fresh nonces: two containers with the same ports get different seals
        assert_ne!(seal, key.seal(PORTS).unwrap());
    }

    #[test]
    fn judging_labels() {
        let key = Key::from_bytes([7; 32]);
        let seal = key.seal(PORTS).unwrap();
        assert_eq!(judge(Some(&key), PORTS, Some(&seal), None, None), Ok(()));
        assert_eq!(
            judge(Some(&key), PORTS, None, None, None),
            Err(Distrust::Unsealed)
        );
        assert_eq!(
            judge(Some(&key), PORTS, Some(&seal), Some(&seal), None),
            Err(Distrust::FromImage)
        );
        assert_eq!(
            judge(Some(&key), PORTS, Some(&seal), None, Some("web")),
            Err(Distrust::Copied {
                original: "web".into()
            })
        );
        let other = Key::from_bytes([1; 32]).seal(PORTS).unwrap();
        assert_eq!(
            judge(Some(&key), PORTS, Some(&other), None, None),
            Err(Distrust::BadSeal)
        );
        // without the key, only what needs none
        assert_eq!(judge(None, PORTS, Some(&other), None, None), Ok(()));
    }

    #[test]
    fn the_key_file_is_root_only_and_made_once() {
        let dir = std::env::temp_dir().join(format!("berth-key-test-{}", std::process::id()));
        let path = dir.join("seal.key");
        let a = Key::load_or_create(&path).unwrap();
        let b = Key::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            Key::load(&path).is_err(),
            "a key others can read is refused"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn berths_making_the_key_at_once_all_get_the_first_one() {
        // the loser of the race reads the winner's key instead of failing
        let base = std::env::temp_dir().join(format!("berth-key-race-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        for round in 0..20 {
            let path = base.join(format!("{round}/seal.key"));
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let keys: Vec<io::Result<Key>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        let (start, path) = (start.clone(), path.clone());
                        s.spawn(move || {
                            start.wait();
                            Key::load_or_create(&path)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let on_disk = Key::load(&path).unwrap();
            for k in keys {
                assert_eq!(k.unwrap().0, on_disk.0, "round {round}");
            }
            // no temporary file left beside the key
            let left: Vec<_> = fs::read_dir(path.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, vec![std::ffi::OsString::from("seal.key")]);
        }
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn a_key_others_can_read_is_refused_and_left_as_it_is() {
        let dir = std::env::temp_dir().join(format!("berth-key-open-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seal.key");
        fs::write(&path, [9u8; 32]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = Key::load_or_create(&path).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("readable by others"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), [9u8; 32], "the key was replaced");
        // positive control: the same file, root's only, is used as it is
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Key::load_or_create(&path).unwrap().0, [9u8; 32]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn shown_ports_need_a_seal_that_holds_and_did_not_come_with_the_image() {
        use crate::model::{PORTS_LABEL, SEAL_LABEL};
        let key = Key::from_bytes([7; 32]);
        let seal = key.seal(PORTS).unwrap();
        let labels = |seal: Option<&str>| {
            let mut l = std::collections::HashMap::new();
            l.insert(PORTS_LABEL.to_string(), PORTS.to_string());
            if let Some(s) = seal {
                l.insert(SEAL_LABEL.to_string(), s.to_string());
            }
            l
        };
        let mut shown = Shown {
            key: Some(key.clone()),
            image_seals: Default::default(),
        };
        shown.image_seals.insert("sha256:plain".into(), None);
        shown
            .image_seals
            .insert("sha256:other".into(), Some(key.seal(PORTS).unwrap()));
        shown
            .image_seals
            .insert("sha256:committed".into(), Some(seal.clone()));
        // positive controls: a sealed label is shown, from an image without that seal
        let want = crate::model::from_label(PORTS);
        assert!(want.as_ref().is_some_and(|p| p.len() == 1));
        for image in [
            None,
            Some("sha256:plain"),
            Some("sha256:other"),
            Some("sha256:unknown"),
        ] {
            assert_eq!(
                shown.published(Some(&labels(Some(&seal))), image),
                want,
                "{image:?}"
            );
        }
        // no labels, no seal, a seal under another key, the image's own seal
        assert_eq!(shown.published(None, None), None);
        assert_eq!(shown.published(Some(&labels(None)), None), None);
        let forged = Key::from_bytes([1; 32]).seal(PORTS).unwrap();
        assert_eq!(shown.published(Some(&labels(Some(&forged))), None), None);
        assert_eq!(
            shown.published(Some(&labels(Some(&seal))), Some("sha256:committed")),
            None
        );
        // without the key (not root): the seal cannot be checked, the image still can
        let keyless = Shown {
            key: None,
            image_seals: shown.image_seals.clone(),
        };
        assert_eq!(keyless.published(Some(&labels(Some(&forged))), None), want);
        assert_eq!(
            keyless.published(Some(&labels(Some(&seal))), Some("sha256:committed")),
            None
        );
    }

    #[test]
    fn the_key_never_shows_and_distrust_says_why() {
        assert_eq!(format!("{:?}", Key::from_bytes([7; 32])), "Key(..)");
        for (why, text) in [
            (
                Distrust::Unsealed,
                "its io.berth.ports label has no seal: berth did not write it",
            ),
            (
                Distrust::BadSeal,
                "its io.berth.ports label does not match its seal under this host's key",
            ),
            (
                Distrust::FromImage,
                "its io.berth.ports label came with its image, not from berth",
            ),
            (
                Distrust::Copied {
                    original: "web".into(),
                },
                "its io.berth.ports label is a copy of container web's",
            ),
        ] {
            assert_eq!(why.to_string(), text);
        }
    }
}

/// What `ps`, `port` and `inspect` show of berth's ports: only a sealed label, whose seal
/// holds where the key can be read (root), and that did not come with the container's
/// image. (Whether the container runs is the caller's question.)
#[derive(Default)]
pub struct Shown {
    key: Option<Key>,
    /// The seal label of each image (by ID) a container with a seal was made from.
    image_seals: std::collections::HashMap<String, Option<String>>,
}

impl Shown {
    /// Reads the key (when it can) and the seals of the images the containers were made
    /// from (one look per image).
    pub async fn of(
        key_path: &Path,
        engine: &crate::engine::Engine,
        containers: impl IntoIterator<Item = (Option<String>, bool)>,
    ) -> Shown {
        let mut shown = Shown {
            key: Key::load(key_path).ok(),
            image_seals: Default::default(),
        };
        for (image, sealed) in containers {
            let Some(image) = image.filter(|_| sealed) else {
                continue;
            };
            if shown.image_seals.contains_key(&image) {
                continue;
            }
            let seal = engine
                .image_labels(&image)
                .await
                .ok()
                .flatten()
                .and_then(|l| l.get(crate::model::SEAL_LABEL).cloned());
            shown.image_seals.insert(image, seal);
        }
        shown
    }

    /// The ports to show for a container with these labels, made from `image` (its ID).
    pub fn published(
        &self,
        labels: Option<&std::collections::HashMap<String, String>>,
        image: Option<&str>,
    ) -> Option<Vec<crate::model::Published>> {
        let labels = labels?;
        let ports = labels.get(crate::model::PORTS_LABEL)?;
        let seal = labels.get(crate::model::SEAL_LABEL)?;
        if self.key.as_ref().is_some_and(|k| !k.verifies(seal, ports)) {
            return None;
        }
        let from_image = image
            .and_then(|i| self.image_seals.get(i))
            .is_some_and(|s| s.as_deref() == Some(seal.as_str()));
        if from_image {
            return None;
        }
        crate::model::from_label(ports)
    }
}
