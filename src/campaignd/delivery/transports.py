"""Transports from ``EMAIL_TRANSPORT``: a pool of SMTP connections, or ``.eml`` files.

A transport never raises for a delivery problem: ``send`` answers with the server's
``Reply`` (``code`` None when there was no answer: no connection, connection lost).

``send(message, ready)`` awaits ``ready`` (when given) right before the step that has the
message accepted: the content of DATA over SMTP, the write of the file. The worker passes
the commit of the sender's previous result there, so a connection has at most one message
accepted and not yet recorded while the envelope of the next one is already on its way.
An exception from ``ready`` withdraws the message: the envelope is reset (RSET) and the
exception passes through ``send``.

A transaction's commands are written and their replies read by campaignd itself
(``_Replies``), not through aiosmtplib's ``mail``, ``rcpt`` and ``data``: those take a
lock, check every argument with a regular expression, arm a timer through ``wait_for``
and rewrite the content with two more regular expressions for each message: without
them the transport takes about 40 % less CPU a message. aiosmtplib still connects, greets,
logs in, resets and quits.

When the server's EHLO offers PIPELINING (RFC 2920) and ``SMTP_PIPELINING`` is ``auto``,
MAIL, RCPT and DATA go out in one write and their three replies are read in order: two
round trips a message instead of four. ``ready`` is then awaited after the 354, before the
content; a message withdrawn there is withdrawn by closing the connection (the server
accepts a message only at the end of its content, so content never sent is never
delivered, whereas RSET is not a command the server reads while it takes content).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import os
import re
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol

from campaignd.delivery.messages import Message
from campaignd.settings import Settings

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
DEFAULT_TIMEOUT = 60.0

Result = TypeVar("Result")
Ready = Callable[[], Awaitable[None]]
"""Awaited before a message is handed over for acceptance (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What became of one message at the transport."""

    code: int | None  # None: no answer (could not connect, connection lost, timeout)
    text: str
    stage: str = "data"  # connect, mail, rcpt or data

    @property
    def accepted(self) -> bool:
        return self.code is not None and 200 <= self.code < 300

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code is not None else self.text


class Transport(Protocol):
    connections: int
    """How many messages it can have in flight at once."""

    async def send(self, message: Message, ready: Ready | None = None) -> Reply: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpTarget:
    """An SMTP server as given in ``EMAIL_TRANSPORT``."""

    host: str
    port: int
    security: str = "none"  # none, starttls or tls
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"not an SMTP URL: {url}")
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            security={"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", [DEFAULT_TIMEOUT])[0]),
        )


_NO_ANSWER = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)
ACCEPTED_ENVELOPE = (250, 251)
START_INPUT = 354
CLOSING = 421  # the server is closing the connection
UNSAFE_IN_PATH = re.compile(r"[\s<>\x00-\x1f\x7f]")
LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")  # CRLF, or a bare LF or CR
LEADING_PERIOD = re.compile(rb"(?m)^\.")
MAX_REPLY_BYTES = 32 * 1024


def _path(address: str, encoding: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO; an address that could smuggle parameters or
    commands onto the line is refused before anything is sent."""
    if UNSAFE_IN_PATH.search(address):
        raise ValueError(f"address {address!r} cannot be sent in an SMTP command")
    return f"<{address}>".encode(encoding)


def content_of(data: bytes) -> bytes:
    """A message's bytes as sent after DATA's 354, the same as aiosmtplib's ``data``:
    every line ending a CRLF, a line starting with a period doubled, then ``.`` alone.

    The messages campaignd builds have neither a bare CR or LF nor a line starting with a
    period: counting and searching bytes (a few µs) shows it, where the two regular
    expressions would take tens of µs to change nothing."""
    crlf = data.count(b"\r\n")
    if not crlf == data.count(b"\r") == data.count(b"\n"):
        data = LINE_END.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b".") or b"\n." in data:
        data = LEADING_PERIOD.sub(b"..", data)
    return data + b".\r\n"


class _Unreadable(Exception):
    """The server's reply is not an SMTP reply (or far too long): the connection is closed."""


class _Replies(asyncio.Protocol):
    """Put in front of aiosmtplib's protocol on a connection's first transaction: it passes
    every incoming byte on to it, except while a transaction's commands are answered
    (between ``collect`` and ``hand_back``), when it parses every reply the bytes hold, in
    order.

    aiosmtplib reads exactly one reply per command it writes and drops what arrives beyond
    it. Whatever ends the connection (end of file, loss) and the write flow control always
    go on to aiosmtplib's protocol, so the client knows its connection is gone. It stays
    in place for the connection's life: changing a transport's protocol costs uvloop two
    system calls each time.
    """

    def __init__(self, underlying: SMTPProtocol, timeout: float) -> None:
        self.underlying = underlying
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.collecting = False
        self.buffer = bytearray()
        self.replies: collections.deque[aiosmtplib.SMTPResponse] = collections.deque()
        self.problem: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None

    def collect(self) -> None:
        """From now on the replies are read here (``next``)."""
        self.collecting = True
        self.buffer.clear()
        self.replies.clear()

    def hand_back(self) -> None:
        """From now on aiosmtplib reads the replies again."""
        self.collecting = False

    async def next(self) -> aiosmtplib.SMTPResponse:
        """The next reply; the connection's problem when it ended before it came."""
        while not self.replies:
            if self.problem is not None:
                raise self.problem
            waiter = self.waiter = self.loop.create_future()
            timer = self.loop.call_later(self.timeout, self._time_out, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
        return self.replies.popleft()

    @staticmethod
    def _time_out(waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(
                aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
            )

    def data_received(self, data: bytes) -> None:
        if not self.collecting:
            self.underlying.data_received(data)
            return
        if self._one_line_reply(data):
            self.replies.append(_reply_of([data]))
            self._wake()
            return
        self.buffer += data
        try:
            self._parse()
        except _Unreadable as error:
            self.problem = self.problem or error
        self._wake()

    def _one_line_reply(self, data: bytes) -> bool:
        """Whether ``data`` is one whole one-line reply and nothing else, as most are."""
        return (
            not self.buffer
            and data[3:4] == b" "
            and data.find(b"\n") == len(data) - 1
            and data[:3].isdigit()
        )

    def _parse(self) -> None:
        start = done = 0
        lines: list[bytes] = []
        while (end := self.buffer.find(b"\n", start)) >= 0:
            line = bytes(self.buffer[start : end + 1])
            start = end + 1
            if not line[:3].isdigit():
                raise _Unreadable(f"not an SMTP reply: {line[:100]!r}")
            lines.append(line)
            if line[3:4] != b"-":
                self.replies.append(_reply_of(lines))
                lines = []
                done = start
        del self.buffer[:done]
        if len(self.buffer) > MAX_REPLY_BYTES:
            raise _Unreadable("reply too long")

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def eof_received(self) -> bool | None:
        self.problem = self.problem or aiosmtplib.SMTPServerDisconnected("Unexpected EOF received")
        self._wake()
        return self.underlying.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.problem = self.problem or aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._wake()
        self.underlying.connection_lost(exc)

    def pause_writing(self) -> None:
        self.underlying.pause_writing()

    def resume_writing(self) -> None:
        self.underlying.resume_writing()


def _reply_of(lines: list[bytes]) -> aiosmtplib.SMTPResponse:
    """One reply of one or more lines, its text as aiosmtplib gives it."""
    text = b"\n".join(line[4:].strip(b" \t\r\n") for line in lines)
    return aiosmtplib.SMTPResponse(int(lines[0][:3]), text.decode("utf-8", "surrogateescape"))


_LOST = (*_NO_ANSWER, _Unreadable)  # the connection cannot go on: it is closed
STAGES = ("mail", "rcpt", "data")
EXPECTED = (ACCEPTED_ENVELOPE, ACCEPTED_ENVELOPE, (START_INPUT,))


def _refusal(answers: list[aiosmtplib.SMTPResponse]) -> Reply | None:
    """The first of a pipelined group's replies that refuses its command: MAIL's before
    RCPT's before DATA's (the later ones follow from it: 503, no valid recipients)."""
    for stage, answer, expected in zip(STAGES, answers, EXPECTED, strict=False):
        if answer.code not in expected:
            return Reply(answer.code, answer.message, stage)
    return None


class _Connection:
    """One SMTP connection of the pool, connected on first use and again after a loss."""

    def __init__(
        self, target: SmtpTarget, tls_context: ssl.SSLContext | None, *, pipelining: bool = True
    ) -> None:
        self.target = target
        self.pipelining = pipelining  # when the server offers it
        self.client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            timeout=target.timeout,
            use_tls=target.security == "tls",
            start_tls=target.security == "starttls",
            tls_context=tls_context,
        )

    async def send(self, message: Message, ready: Ready | None = None) -> Reply:
        reused = self.client.is_connected
        if not reused:
            problem = await self._connect()
            if problem is not None:
                return problem
        reply = await self._transaction(message, ready)
        if reused and reply.code is None and reply.stage == "mail":
            # an idle connection the server had closed: nothing was sent, try a fresh one
            problem = await self._connect()
            return problem if problem is not None else await self._transaction(message, ready)
        return reply

    async def _connect(self) -> Reply | None:
        self.client.close()
        try:
            await self.client.connect()
            await self._greet()
        except aiosmtplib.SMTPResponseException as error:
            self.client.close()
            return Reply(error.code, error.message, "connect")
        except (aiosmtplib.SMTPException, OSError) as error:
            self.client.close()
            return Reply(None, f"cannot connect to {self.target.host}: {error}", "connect")
        return None

    async def _greet(self) -> None:
        """EHLO (HELO if refused) unless the connect did it (TLS, login): the extensions
        are known before the first MAIL."""
        if not self.client.is_ehlo_or_helo_needed:
            return
        try:
            await self.client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await self.client.helo()

    async def _transaction(self, message: Message, ready: Ready | None) -> Reply:
        options: list[bytes] = []
        encoding = "ascii"
        if not (message.sender.isascii() and message.recipient.isascii()):
            encoding = "utf-8"
            if self.client.supports_extension("smtputf8"):
                options.append(b"SMTPUTF8")
        mail = [b"MAIL", b"FROM:" + _path(message.sender, encoding), *options]
        rcpt = [b"RCPT", b"TO:" + _path(message.recipient, encoding)]
        protocol, transport = self.client.protocol, self.client.transport
        if protocol is None or transport is None:
            return Reply(None, "connection lost: not connected", "mail")
        replies = transport.get_protocol()
        if not (isinstance(replies, _Replies) and replies.underlying is protocol):
            replies = _Replies(protocol, self.target.timeout)
            transport.set_protocol(replies)
        reply: Reply | None
        if self.pipelining and self.client.supports_extension("pipelining"):
            reply = await self._collected(
                self._exchange(message, mail, rcpt, ready, protocol, replies), replies
            )
        else:
            reply = await self._collected(self._envelope(mail, rcpt, protocol, replies), replies)
            if reply is None:
                if ready is not None:
                    await self._when_ready(ready)
                reply = await self._collected(self._content(message, protocol, replies), replies)
        if reply.code is not None and not reply.accepted:
            await self._reset()
        return reply

    async def _collected(self, exchange: Awaitable[Result], replies: _Replies) -> Result:
        """``exchange`` with the replies read by ``replies``; a connection left in the middle
        of an exchange (cancelled) is closed, its replies could not be told apart."""
        replies.collect()
        try:
            return await exchange
        except BaseException:
            self.client.close()
            raise
        finally:
            replies.hand_back()

    async def _envelope(
        self, mail: list[bytes], rcpt: list[bytes], protocol: SMTPProtocol, replies: _Replies
    ) -> Reply | None:
        """MAIL, then RCPT, each waiting for its reply (no PIPELINING); None when both are
        accepted, else the refusal or the loss."""
        for stage, command in (("mail", mail), ("rcpt", rcpt)):
            answer = await self._ask(b" ".join(command) + b"\r\n", stage, protocol, replies)
            if isinstance(answer, Reply):
                return answer
            if answer.code not in ACCEPTED_ENVELOPE:
                return self._refused(answer, stage)
        return None

    async def _content(self, message: Message, protocol: SMTPProtocol, replies: _Replies) -> Reply:
        """DATA, and after its 354 the content (``content_of``); the content's reply."""
        answer = await self._ask(b"DATA\r\n", "data", protocol, replies)
        if isinstance(answer, Reply):
            return answer
        if answer.code != START_INPUT:
            return self._refused(answer, "data")
        return await self._send_content(message, protocol, replies)

    async def _send_content(
        self, message: Message, protocol: SMTPProtocol, replies: _Replies
    ) -> Reply:
        """After a 354: the content (``content_of``), and its reply."""
        answer = await self._ask(content_of(message.data), "data", protocol, replies)
        return answer if isinstance(answer, Reply) else self._refused(answer, "data")

    async def _ask(
        self, data: bytes, stage: str, protocol: SMTPProtocol, replies: _Replies
    ) -> aiosmtplib.SMTPResponse | Reply:
        """Write ``data`` and read one reply; the connection closed and a Reply saying so
        when it is lost."""
        try:
            protocol.write(data)
            return await replies.next()
        except _LOST as error:
            self.client.close()
            return Reply(None, f"connection lost: {error}", stage)

    def _refused(self, answer: aiosmtplib.SMTPResponse, stage: str) -> Reply:
        """``answer`` as the transaction's reply; a server closing the connection (421)
        is let go."""
        if answer.code == CLOSING:
            self.client.close()
        return Reply(answer.code, answer.message, stage)

    async def _exchange(
        self,
        message: Message,
        mail: list[bytes],
        rcpt: list[bytes],
        ready: Ready | None,
        protocol: SMTPProtocol,
        replies: _Replies,
    ) -> Reply:
        answers: list[aiosmtplib.SMTPResponse] = []
        try:
            protocol.write(b" ".join(mail) + b"\r\n" + b" ".join(rcpt) + b"\r\nDATA\r\n")
            while len(answers) < len(STAGES):
                answers.append(await replies.next())
        except _LOST as error:
            self.client.close()
            refusal = _refusal(answers)
            lost = Reply(None, f"connection lost: {error}", STAGES[len(answers)])
            return refusal if refusal is not None else lost
        refusal = _refusal(answers)
        if any(answer.code == CLOSING for answer in answers):
            self.client.close()
        elif refusal is not None and answers[-1].code == START_INPUT:
            await self._end_unwanted(answers, replies, protocol)
        if refusal is not None:
            return refusal
        if ready is not None:
            try:
                await ready()
            except BaseException:
                self.client.close()  # the server waits for content: only closing withdraws it
                raise
        return await self._send_content(message, protocol, replies)

    async def _end_unwanted(
        self,
        answers: list[aiosmtplib.SMTPResponse],
        replies: _Replies,
        protocol: SMTPProtocol,
    ) -> None:
        """DATA was answered 354 although MAIL or RCPT was refused: the content must not
        follow. With no recipient accepted, an empty message (``.`` alone) ends it, as
        RFC 2920 section 3.1 says; should a recipient have been accepted all the same, that
        empty message could be delivered, so the connection is closed instead."""
        if answers[1].code in ACCEPTED_ENVELOPE:
            self.client.close()
            return
        try:
            protocol.write(b".\r\n")
            await replies.next()
        except _LOST:
            self.client.close()

    async def _when_ready(self, ready: Ready) -> None:
        """Wait for ``ready``; if it raises (the message is withdrawn), reset the envelope and
        let the exception through."""
        try:
            await ready()
        except BaseException:
            await self._reset()
            raise

    async def _reset(self) -> None:
        if not self.client.is_connected:
            return
        try:
            await self.client.rset()
        except (aiosmtplib.SMTPException, OSError):
            self.client.close()

    async def close(self) -> None:
        if self.client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await asyncio.wait_for(self.client.quit(), timeout=5)
        self.client.close()


class SmtpTransport:
    """``connections`` SMTP connections, each reused across messages; ``pipelining``:
    MAIL, RCPT and DATA in one write where the server offers PIPELINING."""

    def __init__(
        self,
        target: SmtpTarget,
        *,
        connections: int,
        tls_context: ssl.SSLContext | None = None,
        pipelining: bool = True,
    ) -> None:
        self.target = target
        self.connections = connections
        self._all = [
            _Connection(target, tls_context, pipelining=pipelining) for _ in range(connections)
        ]
        self._idle: asyncio.Queue[_Connection] = asyncio.Queue()
        for connection in self._all:
            self._idle.put_nowait(connection)

    async def send(self, message: Message, ready: Ready | None = None) -> Reply:
        connection = await self._idle.get()
        try:
            return await connection.send(message, ready)
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        await asyncio.gather(*(connection.close() for connection in self._all))


SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,150}")
UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._@+-]")


def file_name_of(message_id: str) -> str:
    """A file name for a Message-ID that can never leave the outbox directory.

    An ordinary id (``{campaign}.{delivery}@{domain}``) is used as it is. Anything else (a
    ``/``, ``..`` leading, a control character, a very long id) is replaced by a safe slug
    plus a hash of the whole id, so two different ids never share a file.
    """
    if SAFE_FILE_NAME.fullmatch(message_id) and ".." not in message_id:
        return message_id
    slug = UNSAFE_IN_FILE_NAME.sub("_", message_id).replace("..", "_").lstrip("._")[:100]
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{slug or 'message'}-{digest}"


class FileTransport:
    """Writes each message to ``DIR/<Message-ID>.eml`` atomically (temporary file + rename).

    The name comes from ``file_name_of`` (never a path from user input); the directory is
    created with mode 0700 and each file with 0600: messages hold personal data.
    """

    DIRECTORY_MODE = 0o700
    FILE_MODE = 0o600

    def __init__(self, directory: Path, *, connections: int = 8) -> None:
        self.directory = directory
        self.connections = connections
        self._ready = False
        self._suffix = f"{os.getpid()}.{secrets.token_hex(4)}.tmp"

    def path_of(self, message: Message) -> Path:
        return self.directory / f"{file_name_of(message.message_id)}.eml"

    async def send(self, message: Message, ready: Ready | None = None) -> Reply:
        if ready is not None:
            await ready()
        try:
            path = self._write(message)
        except OSError as error:
            self._ready = False
            return Reply(None, f"cannot write to {self.directory}: {error}")
        return Reply(250, f"written to {path}")

    def _write(self, message: Message) -> Path:
        if not self._ready:
            self.directory.mkdir(mode=self.DIRECTORY_MODE, parents=True, exist_ok=True)
            self._ready = True
        path = self.path_of(message)
        temporary = self.directory / f".{path.stem}.{self._suffix}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        descriptor = os.open(temporary, flags, self.FILE_MODE)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(message.data)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return path

    async def close(self) -> None:
        return None


def file_directory(url: str) -> Path:
    """``file://./outbox`` -> ``./outbox``; ``file:///var/mail/out`` -> ``/var/mail/out``."""
    return Path(unquote(url.removeprefix("file://")) or ".")


def create_transport(settings: Settings) -> Transport:
    url = settings.email_transport
    if url.startswith("file://"):
        return FileTransport(file_directory(url), connections=settings.smtp_connections)
    return SmtpTransport(
        SmtpTarget.from_url(url),
        connections=settings.smtp_connections,
        pipelining=settings.smtp_pipelining == "auto",
    )
