//! TDS packets (MS-TDS 2.2.3): an 8-byte header, messages split across packets of the
//! negotiated size, the last one marked end-of-message.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub(crate) const SQL_BATCH: u8 = 0x01;
pub(crate) const RPC: u8 = 0x03;
pub(crate) const REPLY: u8 = 0x04;
pub(crate) const ATTENTION: u8 = 0x06;
pub(crate) const LOGIN7: u8 = 0x10;
pub(crate) const PRELOGIN: u8 = 0x12;

const HEADER: usize = 8;
const EOM: u8 = 0x01;

/// One whole message: the type of its packets and their payloads joined.
#[derive(Debug)]
pub(crate) struct Message {
    pub kind: u8,
    pub data: Vec<u8>,
}

/// Reads one packet: its type, whether it ends a message, and its payload. `None` at a
/// clean end of stream.
pub(crate) async fn read_packet<R: AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(u8, bool, Vec<u8>)>> {
    let mut header = [0u8; HEADER];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if len < HEADER {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("TDS packet length {len} is shorter than its header"),
        ));
    }
    let mut payload = vec![0u8; len - HEADER];
    r.read_exact(&mut payload).await?;
    Ok(Some((header[0], header[1] & EOM != 0, payload)))
}

/// Writes a message as packets of at most `packet_size` bytes.
pub(crate) async fn write_message<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: u8,
    data: &[u8],
    packet_size: usize,
    spid: u16,
) -> std::io::Result<()> {
    let room = packet_size.max(512) - HEADER;
    let mut chunks = data.chunks(room).peekable();
    let mut id: u8 = 1;
    let mut out = Vec::with_capacity(data.len() + HEADER * (data.len() / room + 1));
    if chunks.peek().is_none() {
        out.extend_from_slice(&header(kind, true, HEADER, spid, id));
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.extend_from_slice(&header(kind, last, HEADER + chunk.len(), spid, id));
        out.extend_from_slice(chunk);
        id = id.wrapping_add(1);
    }
    w.write_all(&out).await?;
    w.flush().await
}

fn header(kind: u8, last: bool, len: usize, spid: u16, id: u8) -> [u8; HEADER] {
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    let spid = spid.to_be_bytes();
    [
        kind,
        if last { EOM } else { 0 },
        len[0],
        len[1],
        spid[0],
        spid[1],
        id,
        0,
    ]
}
