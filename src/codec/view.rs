//! The replay decoder: a record body (formats/record.md) read by hand into a borrowed
//! [`BodyView`] — no serde, no allocation (but for the rare lists of models). It accepts
//! exactly the bodies `codec::decode` accepts: every string is checked as UTF-8, every
//! tag and length as bincode checks them, the ids as [`Id`]s; a body long enough that
//! bincode's size limit could matter goes through bincode instead. The `record_body` fuzz
//! target and the mutation test below hold the two decoders to the same answer.

use crate::event::{BodyView, EVENT_SCHEMA_VERSION, Id};
use crate::limits::{ID_BYTES_MAX, RECORD_BODY_BYTES_MAX};

/// A body decoded for replay: frame, ids and the fields the state reads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    pub frame: u64,
    pub session: &'a str,
    pub user: &'a str,
    pub body: BodyView<'a>,
}

/// Bincode charges at most 8 bytes of its limit per byte it reads (a one-byte varint is
/// charged as a `u64`); below this length the limit cannot be reached.
const HAND_DECODED_MAX: usize = RECORD_BODY_BYTES_MAX as usize / 8;

/// Decodes a record body for replay; `Err(())` when `codec::decode` would refuse it (ask it
/// why: errors are rare, and its words are the ones users see).
pub(crate) fn decode_view(bytes: &[u8]) -> Result<RecordView<'_>, ()> {
    // Past this length bincode's limit might refuse what the layout allows: it decides.
    if bytes.len() > HAND_DECODED_MAX && super::decode_ref(bytes).is_err() {
        return Err(());
    }
    let mut r = Reader(bytes);
    if r.varint_u16()? != EVENT_SCHEMA_VERSION {
        return Err(());
    }
    let frame = r.varint_u64()?;
    let (session, user) = (r.id()?, r.id()?);
    let body = r.body()?;
    if !r.0.is_empty() {
        return Err(());
    }
    Ok(RecordView { frame, session, user, body })
}

/// `bytes` as a `str` when every byte is ASCII and passes `keep`: checked in one pass that
/// does not stop early (so it vectorizes), where `from_utf8`'s setup costs most on short
/// strings.
fn ascii(bytes: &[u8], keep: impl Fn(u8) -> bool) -> Option<&str> {
    if !bytes.iter().fold(true, |all, &b| all & (b < 0x80) & keep(b)) {
        return None;
    }
    #[allow(unsafe_code)]
    // SAFETY: every byte is below 0x80, and a string of ASCII bytes is valid UTF-8.
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// The session id of a body as `codec::decode_session` reads it (version, frame, then a
/// string of 1..=128 bytes, the rest unread); `Err(())` when the hand reader does not
/// accept it, and then `decode_session` asks bincode, which decides and says why. What a
/// scan and an index rebuild read of every frame. Unlike `decode_view` it needs no length
/// gate: what it accepts is at most 149 bytes read, far inside bincode's limit whatever
/// the body's length.
pub(crate) fn session_view(bytes: &[u8]) -> Result<&str, ()> {
    let mut r = Reader(bytes);
    if r.varint_u16()? != EVENT_SCHEMA_VERSION {
        return Err(());
    }
    r.varint_u64()?;
    let session = r.str()?;
    if !(1..=ID_BYTES_MAX).contains(&session.len()) {
        return Err(());
    }
    Ok(session)
}

/// A cursor over the body's bytes; every read checks what is left.
struct Reader<'a>(&'a [u8]);

type R<T> = Result<T, ()>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.0.len() {
            return Err(());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> R<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| ())
    }

    /// A varint whose marker may be at most `max_marker` (251: u16, 252: u32, 253: u64),
    /// as bincode's decoder for that width allows.
    fn varint(&mut self, max_marker: u8) -> R<u64> {
        match self.u8()? {
            b @ 0..=250 => Ok(u64::from(b)),
            m if m > max_marker => Err(()),
            251 => Ok(u64::from(u16::from_le_bytes(self.le()?))),
            252 => Ok(u64::from(u32::from_le_bytes(self.le()?))),
            _ => Ok(u64::from_le_bytes(self.le()?)),
        }
    }

    fn varint_u16(&mut self) -> R<u16> {
        u16::try_from(self.varint(251)?).map_err(|_| ())
    }

    fn varint_u32(&mut self) -> R<u32> {
        u32::try_from(self.varint(252)?).map_err(|_| ())
    }

    fn varint_u64(&mut self) -> R<u64> {
        self.varint(253)
    }

    /// Zig-zag.
    fn varint_i64(&mut self) -> R<i64> {
        let n = self.varint_u64()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn len(&mut self) -> R<usize> {
        usize::try_from(self.varint_u64()?).map_err(|_| ())
    }

    fn str(&mut self) -> R<&'a str> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        match ascii(bytes, |_| true) {
            Some(s) => Ok(s),
            None => std::str::from_utf8(bytes).map_err(|_| ()),
        }
    }

    /// An id: printable ASCII, the common case, is valid UTF-8 and a valid [`Id`] after one
    /// pass over its bytes; anything else is checked in full.
    fn id(&mut self) -> R<&'a str> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        // Printable ASCII of an id's length is a valid [`Id`].
        let printable = |b: u8| b >= 0x20 && b != 0x7f;
        if let Some(s) = ascii(bytes, printable).filter(|_| (1..=ID_BYTES_MAX).contains(&n)) {
            return Ok(s);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| ())?;
        Id::check(s).map_err(|_| ())?;
        Ok(s)
    }

    fn bool(&mut self) -> R<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(()),
        }
    }

    fn option_str(&mut self) -> R<Option<&'a str>> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(()),
        }
    }

    fn strs(&mut self) -> R<Vec<&'a str>> {
        let n = self.len()?;
        // Each string takes at least its length byte: a longer claim cannot be true.
        if n > self.0.len() {
            return Err(());
        }
        (0..n).map(|_| self.str()).collect()
    }

    /// A SHA-256 digest: a byte string of exactly 32 bytes, not kept.
    fn digest(&mut self) -> R<()> {
        if self.len()? != 32 {
            return Err(());
        }
        self.take(32).map(drop)
    }

    fn body(&mut self) -> R<BodyView<'a>> {
        Ok(match self.varint_u32()? {
            0 => BodyView::SessionStart { app_version: self.str()?, models: self.strs()? },
            1 => BodyView::SessionEnd { reason: self.str()? },
            2 => BodyView::SystemStartup { version: self.str()? },
            3 => BodyView::SystemShutdown { clean: self.bool()? },
            4 => BodyView::SystemHealth {
                cpu_pct: self.u8()?,
                mem_mb: self.varint_u32()?,
                frame_time_us: self.varint_u32()?,
            },
            5 => BodyView::EnergyUpdate {
                model: self.str()?,
                tokens: self.varint_u32()?,
                delta: self.varint_i64()?,
            },
            6 => BodyView::EnergyPattern { pattern: self.str()?, intensity: self.varint_i64()? },
            7 => BodyView::EnergyAmplification { factor: self.varint_i64()?, delta: self.varint_i64()? },
            8 => {
                self.digest()?;
                let chars = self.varint_u32()?;
                self.option_str()?;
                BodyView::UserPrompt { chars }
            }
            9 => {
                self.str()?;
                self.option_str()?;
                BodyView::UserAction
            }
            10 => BodyView::UserPreference { key: self.str()?, value: self.str()? },
            11 => {
                self.str()?;
                let (tokens, latency_us) = (self.varint_u32()?, self.varint_u64()?);
                self.digest()?;
                self.option_str()?;
                BodyView::AiOutput { tokens, latency_us }
            }
            12 => BodyView::AiModelChange { from: self.option_str()?, to: self.str()? },
            13 => {
                self.str()?;
                let code = self.str()?;
                self.str()?;
                BodyView::AiError { code }
            }
            14 => BodyView::PatternInterference { models: self.strs()?, strength: self.varint_i64()? },
            15 => BodyView::PatternResonance { models: self.strs()?, strength: self.varint_i64()? },
            _ => return Err(()),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::event::samples;

    /// Both decoders give the same answer on `bytes`: both refuse, or both accept and agree.
    fn agree(bytes: &[u8]) {
        match (decode_view(bytes), super::super::decode(0, bytes)) {
            (Ok(v), Ok(e)) => {
                assert_eq!((v.frame, v.session, v.user), (e.frame, e.session.as_str(), e.user.as_str()));
                assert_eq!(v.body, e.body.view());
            }
            (Err(()), Err(_)) => {}
            (v, e) => panic!("decoders disagree on {bytes:?}: view {v:?}, bincode {e:?}"),
        }
    }

    /// Every sample event's body, as the encoder writes it.
    fn sample_bodies() -> Vec<(crate::event::Event, Vec<u8>)> {
        let mut buf = vec![0u8; 4096];
        samples::events()
            .into_iter()
            .map(|event| {
                let n = super::super::encode_into(&event, &mut buf).unwrap();
                (event, buf[..n].to_vec())
            })
            .collect()
    }

    /// Runs `check` on every truncation of `body`, every byte of it set to each of a set of
    /// telling values and flipped bit by bit, and `body` with a byte more.
    fn every_variant(body: &[u8], check: impl Fn(&[u8])) {
        for len in 0..=body.len() {
            check(&body[..len]);
        }
        let mut m = body.to_vec();
        for i in 0..m.len() {
            let was = m[i];
            for b in [0, 1, 2, 31, 32, 33, 0x7f, 0x80, 0xc0, 0xff, 250, 251, 252, 253, 254]
                .into_iter()
                .chain((0..8).map(|bit| was ^ (1 << bit)))
            {
                m[i] = b;
                check(&m);
            }
            m[i] = was;
        }
        m.push(0);
        check(&m);
    }

    #[test]
    fn every_sample_every_truncation_and_every_byte_mutation_agree() {
        for (event, body) in sample_bodies() {
            assert!(decode_view(&body).is_ok(), "{}", event.event_type());
            every_variant(&body, agree);
        }
    }

    /// The session read by hand, bincode deciding what it does not accept, gives exactly
    /// what bincode alone gives.
    fn session_agrees(bytes: &[u8]) {
        let by_bincode = super::super::decode_session_by_bincode(bytes);
        assert_eq!(super::super::decode_session(bytes), by_bincode, "{bytes:?}");
        if let Ok(s) = session_view(bytes) {
            assert_eq!(by_bincode, Ok(s), "{bytes:?}");
        }
    }

    #[test]
    fn the_session_reader_agrees_with_bincode_on_every_truncation_and_mutation() {
        for (event, body) in sample_bodies() {
            assert_eq!(session_view(&body), Ok(event.session.as_str()));
            every_variant(&body, session_agrees);
        }
    }

    #[test]
    fn a_body_past_the_hand_decoded_length_is_decided_by_bincode() {
        use crate::event::body::{EventBody, SessionStart};
        let mut event = samples::events().remove(0);
        // Many empty model names: bincode charges each one eight bytes of its limit.
        let models = vec![String::new(); HAND_DECODED_MAX + 10];
        event.body = EventBody::SessionStart(SessionStart { app_version: "1".into(), models });
        let mut buf = vec![0u8; 2 * HAND_DECODED_MAX];
        let n = super::super::encode_into(&event, &mut buf).unwrap();
        assert!(n > HAND_DECODED_MAX);
        assert!(super::super::decode(0, &buf[..n]).is_err(), "over bincode's limit");
        assert_eq!(decode_view(&buf[..n]), Err(()));
        // The session reader has no length gate: its prefix is inside the limit, so it reads
        // the session of this body, as bincode's session read does.
        assert_eq!(session_view(&buf[..n]), Ok(event.session.as_str()));
        session_agrees(&buf[..n]);
    }
}
