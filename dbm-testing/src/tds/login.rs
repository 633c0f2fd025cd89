//! PRELOGIN (MS-TDS 2.2.6.5) and LOGIN7 (2.2.6.4).

use super::decode::Cursor;

const ENCRYPT_NOT_SUP: u8 = 0x02;
const ENCRYPT_REQ: u8 = 0x03;

/// What a client asked for in its PRELOGIN.
#[derive(Debug)]
pub(crate) struct Prelogin {
    /// The client's ENCRYPTION option.
    pub encryption: u8,
}

impl Prelogin {
    /// Whether the client insists on TLS (this server has none).
    pub(crate) fn requires_tls(&self) -> bool {
        self.encryption == ENCRYPT_REQ
    }
}

/// Parses a PRELOGIN option table.
pub(crate) fn parse_prelogin(data: &[u8]) -> Result<Prelogin, String> {
    let mut c = Cursor::new(data);
    let mut encryption = ENCRYPT_NOT_SUP;
    loop {
        let token = c.u8()?;
        if token == 0xFF {
            break;
        }
        let b = c.take(4)?;
        let offset = usize::from(u16::from_be_bytes([b[0], b[1]]));
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if token == 0x01 && len >= 1 {
            encryption = *data.get(offset).ok_or("bad ENCRYPTION offset")?;
        }
    }
    Ok(Prelogin { encryption })
}

/// The server's PRELOGIN answer: version 16.0, no encryption, no MARS.
pub(crate) fn prelogin_reply() -> Vec<u8> {
    // (token, data)
    let options: [(u8, Vec<u8>); 5] = [
        (0x00, vec![16, 0, 0x10, 0x00, 0, 0]), // VERSION 16.0.4096, sub-build 0
        (0x01, vec![ENCRYPT_NOT_SUP]),         // ENCRYPTION
        (0x02, vec![0]),                       // INSTOPT: default instance
        (0x03, vec![]),                        // THREADID
        (0x04, vec![0]),                       // MARS off
    ];
    let table_len = options.len() * 5 + 1;
    let mut table = Vec::new();
    let mut body = Vec::new();
    for (token, data) in &options {
        let offset = (table_len + body.len()) as u16;
        table.push(*token);
        table.extend_from_slice(&offset.to_be_bytes());
        table.extend_from_slice(&(data.len() as u16).to_be_bytes());
        body.extend_from_slice(data);
    }
    table.push(0xFF);
    table.extend_from_slice(&body);
    table
}

/// What a LOGIN7 carries that the server uses.
#[derive(Debug)]
pub(crate) struct Login {
    pub tds_version: u32,
    pub packet_size: u32,
    pub user: String,
    pub password: String,
    pub app_name: String,
    pub database: String,
}

/// Parses LOGIN7; the password is decoded (nibbles swapped back, XOR 0xA5).
pub(crate) fn parse_login(data: &[u8]) -> Result<Login, String> {
    let mut c = Cursor::new(data);
    let _len = c.u32()?;
    let tds_version = c.u32()?;
    let packet_size = c.u32()?;
    c.take(24)?; // client version, pid, connection id, four flag bytes, time zone, LCID
    let field = |c: &mut Cursor<'_>| -> Result<(usize, usize), String> {
        Ok((usize::from(c.u16()?), usize::from(c.u16()?)))
    };
    let _host = field(&mut c)?;
    let user = field(&mut c)?;
    let password = field(&mut c)?;
    let app = field(&mut c)?;
    let _server = field(&mut c)?;
    let _extension = field(&mut c)?;
    let _library = field(&mut c)?;
    let _language = field(&mut c)?;
    let database = field(&mut c)?;
    let text = |(offset, chars): (usize, usize)| -> Result<String, String> {
        let mut c = Cursor::new(data);
        c.take(offset)?;
        c.utf16(chars)
    };
    let raw = {
        let (offset, chars) = password;
        let b = data
            .get(offset..offset + chars * 2)
            .ok_or("bad password offset")?;
        b.iter()
            .map(|&x| {
                let x = x ^ 0xA5;
                x.rotate_left(4)
            })
            .collect::<Vec<u8>>()
    };
    let units: Vec<u16> = raw
        .chunks(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    Ok(Login {
        tds_version,
        packet_size,
        user: text(user)?,
        password: String::from_utf16(&units).map_err(|_| "password is not UTF-16")?,
        app_name: text(app)?,
        database: text(database)?,
    })
}
