//! One client session of the test server: PRELOGIN, LOGIN7, then requests (SQL batches
//! and `sp_executesql` RPCs) answered by the engine or the script, with a reader task that
//! sees an ATTENTION while a request runs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::decode::Cursor;
use super::engine::{EngineSession, Event};
use super::packet::{self, Message};
use super::tokens::{Column, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_INXACT, DONE_MORE, Reply};
use super::types::TdsValue;
use super::{Mode, Param, Request, RequestKind, Shared, TdsServer, login, script};

/// Writes one reply message, packet by packet, as it is built.
pub(crate) struct Out<'a> {
    pub(crate) w: &'a mut OwnedWriteHalf,
    pub(crate) reply: Reply,
    pub(crate) packet_size: usize,
    pub(crate) spid: u16,
    pub(crate) id: u8,
}

impl<'a> Out<'a> {
    pub(crate) fn new(w: &'a mut OwnedWriteHalf, packet_size: usize, spid: u16) -> Self {
        Out {
            w,
            reply: Reply::default(),
            packet_size,
            spid,
            id: 1,
        }
    }

    pub(crate) fn packet(&mut self, data: &[u8], last: bool) -> Vec<u8> {
        let len = (data.len() + 8) as u16;
        let mut p = vec![packet::REPLY, u8::from(last)];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&self.spid.to_be_bytes());
        p.push(self.id);
        p.push(0);
        p.extend_from_slice(data);
        self.id = self.id.wrapping_add(1);
        p
    }

    /// Sends the whole packets built so far (none marked last).
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        let room = self.packet_size - 8;
        if self.reply.bytes.len() <= room {
            return Ok(());
        }
        let keep = self.reply.bytes.len() % room;
        let keep = if keep == 0 { room } else { keep };
        let data = self
            .reply
            .bytes
            .drain(..self.reply.bytes.len() - keep)
            .collect::<Vec<u8>>();
        let mut out = Vec::new();
        for chunk in data.chunks(room) {
            let p = self.packet(chunk, false);
            out.extend_from_slice(&p);
        }
        self.w.write_all(&out).await
    }

    /// Sends everything built so far now, as packets not marked last (the message goes on).
    pub(crate) async fn send_partial(&mut self) -> std::io::Result<()> {
        let room = self.packet_size - 8;
        let data = self.reply.take();
        let mut out = Vec::new();
        for chunk in data.chunks(room) {
            let p = self.packet(chunk, false);
            out.extend_from_slice(&p);
        }
        self.w.write_all(&out).await?;
        self.w.flush().await
    }

    /// Sends the rest, the last packet marked end-of-message.
    pub(crate) async fn finish(mut self) -> std::io::Result<()> {
        self.flush().await?;
        let data = self.reply.take();
        let p = self.packet(&data, true);
        self.w.write_all(&p).await?;
        self.w.flush().await
    }
}

/// What the reader task hands the session.
pub(crate) enum Incoming {
    Message(Message),
    Attention,
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut socket: TcpStream,
    spid: u16,
) -> std::io::Result<()> {
    let _ = socket.set_nodelay(true);
    // PRELOGIN
    let Some(msg) = read_message(&mut socket).await? else {
        return Ok(());
    };
    if msg.kind != packet::PRELOGIN {
        return Err(invalid(format!(
            "expected PRELOGIN, got packet type {}",
            msg.kind
        )));
    }
    let prelogin = login::parse_prelogin(&msg.data).map_err(invalid)?;
    packet::write_message(
        &mut socket,
        packet::REPLY,
        &login::prelogin_reply(),
        4096,
        0,
    )
    .await?;
    if prelogin.requires_tls() {
        return Ok(()); // the client will not go on without TLS
    }
    // LOGIN7
    let Some(msg) = read_message(&mut socket).await? else {
        return Ok(());
    };
    if msg.kind != packet::LOGIN7 {
        return Err(invalid(format!(
            "expected LOGIN7, got packet type {}",
            msg.kind
        )));
    }
    let login = login::parse_login(&msg.data).map_err(invalid)?;
    let packet_size = match login.packet_size {
        512..=32767 => login.packet_size as usize,
        _ => 4096,
    };
    let database = if login.database.is_empty() {
        "master".to_owned()
    } else {
        login.database.to_ascii_lowercase()
    };
    let (mut reader, mut writer) = socket.into_split();
    let mut reply = Reply::default();
    let mut engine = None;
    let refused = if login.user != "sa" || login.password != TdsServer::PASSWORD {
        Some((
            18456,
            14,
            format!("Login failed for user '{}'.", login.user),
        ))
    } else if let Mode::Engine(e) = &shared.mode {
        match EngineSession::open(e.clone(), spid, &database) {
            Ok(s) => {
                engine = Some(s);
                None
            }
            Err(text) => Some((4060, 11, text)),
        }
    } else {
        None
    };
    if let Some((number, class, text)) = refused {
        reply.error(number, class, &text);
        reply.done(DONE_ERROR, 0);
        packet::write_message(&mut writer, packet::REPLY, &reply.take(), packet_size, spid).await?;
        return Ok(());
    }
    reply.env_database(&database, "master");
    reply.info(5701, &format!("Changed database context to '{database}'."));
    reply.env_collation();
    let version = match login.tds_version {
        v @ (0x7209_0002 | 0x730A_0003 | 0x730B_0003 | 0x7400_0004) => v,
        _ => 0x7400_0004,
    };
    reply.login_ack(version);
    reply.env_packet_size(packet_size);
    reply.done(0, 0);
    packet::write_message(&mut writer, packet::REPLY, &reply.take(), packet_size, spid).await?;
    shared.logins.fetch_add(1, Ordering::SeqCst);
    let _ = login.app_name;

    // Requests: a reader task keeps reading, so that an ATTENTION is seen while a request
    // runs.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let attention_count = shared.clone();
    let read_task = tokio::spawn(async move {
        let mut parts: Vec<u8> = Vec::new();
        loop {
            match packet::read_packet(&mut reader).await {
                Ok(Some((packet::ATTENTION, _, _))) => {
                    attention_count.attentions.fetch_add(1, Ordering::SeqCst);
                    if tx.send(Incoming::Attention).is_err() {
                        break;
                    }
                }
                Ok(Some((kind, last, payload))) => {
                    parts.extend_from_slice(&payload);
                    if last {
                        let data = std::mem::take(&mut parts);
                        if tx.send(Incoming::Message(Message { kind, data })).is_err() {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
    });
    let mut session = Session {
        shared: shared.clone(),
        spid,
        packet_size,
        engine,
        pending: VecDeque::new(),
    };
    let result = session.run(&mut rx, &mut writer).await;
    read_task.abort();
    result
}

async fn read_message(socket: &mut TcpStream) -> std::io::Result<Option<Message>> {
    let mut data = Vec::new();
    loop {
        let Some((kind, last, payload)) = packet::read_packet(socket).await? else {
            return Ok(None);
        };
        data.extend_from_slice(&payload);
        if last {
            return Ok(Some(Message { kind, data }));
        }
    }
}

pub(crate) fn invalid(e: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.into())
}

pub(crate) struct Session {
    pub(crate) shared: Arc<Shared>,
    pub(crate) spid: u16,
    pub(crate) packet_size: usize,
    pub(crate) engine: Option<EngineSession>,
    pub(crate) pending: VecDeque<Message>,
}

impl Session {
    async fn run(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Incoming>,
        w: &mut OwnedWriteHalf,
    ) -> std::io::Result<()> {
        loop {
            let msg = match self.pending.pop_front() {
                Some(m) => m,
                None => match rx.recv().await {
                    None => return Ok(()),
                    // ATTENTION with nothing running: acknowledge it on its own.
                    Some(Incoming::Attention) => {
                        let mut out = Out::new(w, self.packet_size, self.spid);
                        out.reply.done(DONE_ATTN, 0);
                        out.finish().await?;
                        continue;
                    }
                    Some(Incoming::Message(m)) => m,
                },
            };
            let request = match parse_request(&msg, self.spid) {
                Ok(r) => r,
                Err(e) => {
                    let mut out = Out::new(w, self.packet_size, self.spid);
                    out.reply.error(50000, 16, &format!("test server: {e}"));
                    out.reply.done(DONE_ERROR, 0);
                    out.finish().await?;
                    continue;
                }
            };
            self.shared
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(request.clone());
            match &self.shared.mode {
                Mode::Engine(_) => self.engine_request(request, rx, w).await?,
                Mode::Scripted(script) => {
                    let script = script.clone();
                    if !script::perform(&script, &request, self, rx, w).await? {
                        return Ok(()); // the script closed the connection
                    }
                }
            }
        }
    }

    /// Waits for the next incoming item while something runs; requests that arrive are
    /// kept for later. `true` when it was an ATTENTION.
    pub(crate) fn note(&mut self, incoming: Option<Incoming>) -> bool {
        match incoming {
            Some(Incoming::Attention) => true,
            Some(Incoming::Message(m)) => {
                self.pending.push_back(m);
                false
            }
            None => false,
        }
    }

    async fn engine_request(
        &mut self,
        request: Request,
        rx: &mut mpsc::UnboundedReceiver<Incoming>,
        w: &mut OwnedWriteHalf,
    ) -> std::io::Result<()> {
        let rpc = request.kind == RequestKind::Rpc;
        let Some(mut session) = self.engine.take() else {
            return Ok(());
        };
        let interrupt = session.interrupt_handle();
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, mut events) = mpsc::channel(64);
        let c = cancel.clone();
        let job = tokio::task::spawn_blocking(move || {
            session.run(&request, &tx, &c);
            session
        });
        let mut out = Out::new(w, self.packet_size, self.spid);
        let mut columns: Vec<Column> = Vec::new();
        let mut last_done: Option<(u16, u64)> = None;
        let mut attention = false;
        let mut in_tx = false;
        loop {
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else { break };
                    if attention {
                        continue; // what a stopped statement still sends is dropped
                    }
                    if !matches!(ev, Event::Done { .. })
                        && let Some((status, rows)) = last_done.take()
                    {
                        done(&mut out.reply, rpc, status | DONE_MORE, rows);
                    }
                    match ev {
                        Event::Columns(c) => {
                            out.reply.col_metadata(&c);
                            columns = c;
                        }
                        Event::Row(values) => {
                            if let Err(e) = out.reply.row(&columns, &values) {
                                out.reply.error(50000, 16, &format!("test server: {e}"));
                            }
                        }
                        Event::Done { count, error } => {
                            if let Some((status, rows)) = last_done.take() {
                                done(&mut out.reply, rpc, status | DONE_MORE, rows);
                            }
                            let mut status = if count.is_some() { DONE_COUNT } else { 0 };
                            if error {
                                status |= DONE_ERROR;
                            }
                            if in_tx {
                                status |= DONE_INXACT;
                            }
                            last_done = Some((status, count.unwrap_or(0)));
                        }
                        Event::Error { number, class, text, line } => {
                            if number >= 0 {
                                out.reply.error_at(number, class, &text, line);
                            }
                        }
                        Event::Begin(d) => {
                            in_tx = true;
                            out.reply.env_begin(d);
                        }
                        Event::Commit(d) => {
                            in_tx = false;
                            out.reply.env_commit(d);
                        }
                        Event::Rollback(d) => {
                            in_tx = false;
                            out.reply.env_rollback(d);
                        }
                        Event::Database { new, old } => out.reply.env_database(&new, &old),
                        Event::Kill(spid) => {
                            let handle = self.shared.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(&spid);
                            if let Some(h) = handle {
                                h.abort();
                            }
                        }
                    }
                    out.flush().await?;
                }
                incoming = rx.recv(), if !attention => {
                    if self.note(incoming) {
                        attention = true;
                        cancel.store(true, Ordering::SeqCst);
                        if let Some(h) = &interrupt {
                            h.interrupt();
                        }
                    }
                }
            }
        }
        let session = job.await.map_err(|e| invalid(e.to_string()))?;
        let in_tx = session.in_transaction();
        self.engine = Some(session);
        if attention {
            out.reply.done(DONE_ATTN, 0);
        } else {
            let (status, rows) = last_done.unwrap_or((0, 0));
            if rpc {
                done(&mut out.reply, true, status | DONE_MORE, rows);
                out.reply.return_status(0);
                out.reply.done_proc(
                    status & !(DONE_COUNT | DONE_MORE) | if in_tx { DONE_INXACT } else { 0 },
                    0,
                );
            } else {
                out.reply.done(status, rows);
            }
        }
        out.finish().await
    }
}

/// DONE for a batch's statement, DONEINPROC for an RPC's.
fn done(reply: &mut Reply, rpc: bool, status: u16, rows: u64) {
    if rpc {
        reply.done_in_proc(status, rows);
    } else {
        reply.done(status, rows);
    }
}

/// Decodes a SQL batch or an `sp_executesql` RPC.
fn parse_request(msg: &Message, spid: u16) -> Result<Request, String> {
    let mut c = Cursor::new(&msg.data);
    // ALL_HEADERS
    let total = c.u32()? as usize;
    c.take(total.saturating_sub(4))?;
    match msg.kind {
        packet::SQL_BATCH => {
            let rest = msg.data.len() - c.pos;
            Ok(Request {
                spid,
                kind: RequestKind::Batch,
                sql: c.utf16(rest / 2)?,
                params: Vec::new(),
            })
        }
        packet::RPC => {
            let name_len = c.u16()?;
            if name_len == 0xFFFF {
                let id = c.u16()?;
                if id != 10 {
                    return Err(format!(
                        "RPC procedure id {id} is not supported (only sp_executesql)"
                    ));
                }
            } else {
                let name = c.utf16(usize::from(name_len))?;
                if !name.eq_ignore_ascii_case("sp_executesql") {
                    return Err(format!("RPC procedure `{name}` is not supported"));
                }
            }
            c.u16()?; // option flags
            let mut all = Vec::new();
            while !c.done() {
                let name = c.b_varchar()?;
                c.u8()?; // status flags
                let (ty, value) = c.typed_value()?;
                all.push(Param { name, ty, value });
            }
            let mut it = all.into_iter();
            let sql = match it.next().map(|p| p.value) {
                Some(TdsValue::Text(s)) => s,
                other => return Err(format!("sp_executesql without a statement ({other:?})")),
            };
            let _declarations = it.next();
            Ok(Request {
                spid,
                kind: RequestKind::Rpc,
                sql,
                params: it.collect(),
            })
        }
        other => Err(format!("packet type {other} is not a request")),
    }
}
