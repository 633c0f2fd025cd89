//! Reply tokens (MS-TDS 2.2.7): what the server writes back.

use super::types::{TdsType, TdsValue, put_b_varchar, put_us_varchar};

pub(crate) const DONE_MORE: u16 = 0x01;
pub(crate) const DONE_ERROR: u16 = 0x02;
pub(crate) const DONE_INXACT: u16 = 0x04;
pub(crate) const DONE_COUNT: u16 = 0x10;
pub(crate) const DONE_ATTN: u16 = 0x20;

/// A column of a result set.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TdsType,
}

impl Column {
    /// A column.
    pub fn new(name: impl Into<String>, ty: TdsType) -> Self {
        Column {
            name: name.into(),
            ty,
        }
    }
}

/// The tokens of one reply message, built in order.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub bytes: Vec<u8>,
}

impl Reply {
    fn token_with_len(&mut self, token: u8, body: Vec<u8>) {
        self.bytes.push(token);
        self.bytes
            .extend_from_slice(&(body.len() as u16).to_le_bytes());
        self.bytes.extend_from_slice(&body);
    }

    pub(crate) fn login_ack(&mut self, tds_version: u32) {
        let mut b = vec![1]; // SQL_TSQL
        b.extend_from_slice(&tds_version.to_be_bytes());
        put_b_varchar(&mut b, "dbm TDS test server");
        b.extend_from_slice(&[16, 0, 0, 0]);
        self.token_with_len(0xAD, b);
    }

    fn env_change_text(&mut self, kind: u8, new: &str, old: &str) {
        let mut b = vec![kind];
        put_b_varchar(&mut b, new);
        put_b_varchar(&mut b, old);
        self.token_with_len(0xE3, b);
    }

    fn env_change_bytes(&mut self, kind: u8, new: &[u8], old: &[u8]) {
        let mut b = vec![kind, new.len() as u8];
        b.extend_from_slice(new);
        b.push(old.len() as u8);
        b.extend_from_slice(old);
        self.token_with_len(0xE3, b);
    }

    pub(crate) fn env_database(&mut self, new: &str, old: &str) {
        self.env_change_text(1, new, old);
    }

    pub(crate) fn env_packet_size(&mut self, size: usize) {
        self.env_change_text(4, &size.to_string(), &size.to_string());
    }

    pub(crate) fn env_collation(&mut self) {
        self.env_change_bytes(7, &super::types::COLLATION, &[]);
    }

    pub(crate) fn env_begin(&mut self, descriptor: u64) {
        self.env_change_bytes(8, &descriptor.to_le_bytes(), &[]);
    }

    pub(crate) fn env_commit(&mut self, descriptor: u64) {
        self.env_change_bytes(9, &[], &descriptor.to_le_bytes());
    }

    pub(crate) fn env_rollback(&mut self, descriptor: u64) {
        self.env_change_bytes(10, &[], &descriptor.to_le_bytes());
    }

    fn message(&mut self, token: u8, number: i32, class: u8, text: &str, line: u32) {
        let mut b = Vec::new();
        b.extend_from_slice(&number.to_le_bytes());
        b.push(1); // state
        b.push(class);
        put_us_varchar(&mut b, text);
        put_b_varchar(&mut b, "dbmtds");
        put_b_varchar(&mut b, "");
        b.extend_from_slice(&line.to_le_bytes());
        self.token_with_len(token, b);
    }

    pub(crate) fn info(&mut self, number: i32, text: &str) {
        self.message(0xAB, number, 0, text, 1);
    }

    pub(crate) fn error(&mut self, number: i32, class: u8, text: &str) {
        self.message(0xAA, number, class, text, 1);
    }

    /// An error on `line` of the batch.
    pub(crate) fn error_at(&mut self, number: i32, class: u8, text: &str, line: u32) {
        self.message(0xAA, number, class, text, line);
    }

    pub(crate) fn col_metadata(&mut self, columns: &[Column]) {
        self.bytes.push(0x81);
        self.bytes
            .extend_from_slice(&(columns.len() as u16).to_le_bytes());
        for c in columns {
            self.bytes.extend_from_slice(&0u32.to_le_bytes()); // user type
            self.bytes.extend_from_slice(&0x0009u16.to_le_bytes()); // nullable, updatable unknown
            c.ty.put_type_info(&mut self.bytes);
            put_b_varchar(&mut self.bytes, &c.name);
        }
    }

    pub(crate) fn row(&mut self, columns: &[Column], values: &[TdsValue]) -> Result<(), String> {
        self.bytes.push(0xD1);
        for (c, v) in columns.iter().zip(values) {
            c.ty.put_value(&mut self.bytes, v)
                .map_err(|e| format!("column `{}`: {e}", c.name))?;
        }
        Ok(())
    }

    fn done_token(&mut self, token: u8, status: u16, rows: u64) {
        self.bytes.push(token);
        self.bytes.extend_from_slice(&status.to_le_bytes());
        self.bytes.extend_from_slice(&0xC1u16.to_le_bytes()); // current command
        self.bytes.extend_from_slice(&rows.to_le_bytes());
    }

    pub(crate) fn done(&mut self, status: u16, rows: u64) {
        self.done_token(0xFD, status, rows);
    }

    pub(crate) fn done_in_proc(&mut self, status: u16, rows: u64) {
        self.done_token(0xFF, status, rows);
    }

    pub(crate) fn done_proc(&mut self, status: u16, rows: u64) {
        self.done_token(0xFE, status, rows);
    }

    pub(crate) fn return_status(&mut self, status: i32) {
        self.bytes.push(0x79);
        self.bytes.extend_from_slice(&status.to_le_bytes());
    }

    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}
