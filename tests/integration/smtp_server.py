"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a free port, its own thread).

It records every message it accepts (envelope and raw bytes) and can be told to answer
4xx or 5xx, or to drop the connection, for the next N messages or for given addresses,
and to wait before each DATA reply. ``python -m tests.integration.smtp_server`` runs one
in the foreground (for benchmarks): it prints its port and accepts everything.

``pipelining=True`` adds PIPELINING (RFC 2920) to the EHLO reply: aiosmtpd reads commands
from its stream one after the other, so it answers a pipelined group in order. Each read
that begins with MAIL is recorded as the commands it holds (``envelope_reads``): ``("MAIL",
"RCPT", "DATA")`` when a client pipelines, ``("MAIL",)`` when it waits for each reply.
``lenient_data=True`` makes it a server RFC 2920 section 3.1 warns about: it answers 354 to
DATA even when every RCPT was refused; whatever content it is then given is recorded in
``unwanted`` (never among ``messages``) and answered 554.

TLS: ``starttls_context`` offers STARTTLS (required before MAIL unless
``require_starttls=False``), ``tls_context`` wraps the listening socket (implicit TLS,
smtps). ``make_certificate(directory)`` writes a self-signed certificate for 127.0.0.1
and localhost; ``Certificate.server_context()`` is the context to give the server.
aiosmtpd's ``auth_require_tls`` only knows STARTTLS (it would refuse AUTH on an implicit
TLS socket), so each login is recorded with whether it came over TLS: ``logins``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import email
import email.policy
import ipaddress
import ssl
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRY_LATER = "451 4.3.0 try again later"
NO_SUCH_USER = "550 5.1.1 no such user"
DROP = None


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    tls: bool = False  # the message came over a TLS connection (STARTTLS or implicit)

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True)
class Login:
    user: str
    accepted: bool
    tls: bool  # the credentials came over a TLS connection


@dataclass
class Rule:
    reply: str | None  # None drops the connection instead of answering
    stage: str  # "mail", "rcpt" or "data"
    remaining: int | None = None  # None: for ever
    addresses: set[str] | None = None  # None: any address


@dataclass
class _State:
    messages: list[Received] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (address, reply)
    dropped: int = 0
    connections: int = 0
    logins: list[Login] = field(default_factory=list)
    envelope_reads: list[tuple[str, ...]] = field(default_factory=list)
    unwanted: list[bytes] = field(default_factory=list)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        rule = self.server.take("mail", [])
        if rule is not None:
            if rule.reply is None:
                self.server.note_drop()
                _drop(server)
                return "421 4.4.2 closing"
            self.server.note_refusal(address, rule.reply)
            return rule.reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        rule = self.server.take("rcpt", [address])
        if rule is not None:
            if rule.reply is None:
                self.server.note_drop()
                _drop(server)
                return "421 4.4.2 closing"
            self.server.note_refusal(address, rule.reply)
            if self.server.lenient_data:
                envelope.rcpt_tos.append(address)  # so that DATA is answered 354 all the same
                envelope.refused = True  # type: ignore[attr-defined]
            return rule.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if getattr(envelope, "refused", False):
            self.server.note_unwanted(envelope.original_content or b"")
            return "554 5.5.1 no valid recipients"
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        recipients = [str(address) for address in envelope.rcpt_tos]
        rule = self.server.take("data", recipients)
        if rule is not None:
            if rule.reply is None:
                self.server.note_drop()
                _drop(server)
                return "421 4.4.2 closing"
            for address in recipients:
                self.server.note_refusal(address, rule.reply)
            return rule.reply
        content = envelope.original_content or b""
        self.server.note_message(
            Received(str(envelope.mail_from), recipients, content, tls=_over_tls(server))
        )
        return "250 2.0.0 OK queued"


def _drop(server: SMTP) -> None:
    if server.transport is not None:
        server.transport.close()


def _over_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Pipelining(_Handler):
    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when there is no such hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class _Counting(SMTP):
    """Counts connections (the pool must reuse them) and records the envelopes' reads."""

    def __init__(self, handler: Any, server: SmtpServer, **options: Any) -> None:
        super().__init__(handler, **options)
        self._owner = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # not the TLS layer of a STARTTLS upgrade
            self._owner.note_connection()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if data.startswith(b"MAIL "):
            lines = data.split(b"\r\n")
            self._owner.note_envelope_read(tuple(line[:4].decode() for line in lines if line))
        super().data_received(data)


class SmtpServer:
    def __init__(
        self,
        *,
        delay: float = 0.0,
        credentials: tuple[str, str] | None = None,
        starttls_context: Any = None,
        tls_context: Any = None,
        require_starttls: bool = True,
        auth_require_tls: bool = False,
        pipelining: bool = False,
        lenient_data: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.delay = delay
        self.credentials = credentials
        self.starttls_context = starttls_context
        self.tls_context = tls_context
        self.require_starttls = require_starttls
        self.auth_require_tls = auth_require_tls
        self.pipelining = pipelining
        self.lenient_data = lenient_data
        self._state = _State()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # -- what tests read ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._state.messages)

    @property
    def refused(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._state.refused)

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._state.dropped

    @property
    def connections(self) -> int:
        with self._lock:
            return self._state.connections

    @property
    def logins(self) -> list[Login]:
        with self._lock:
            return list(self._state.logins)

    @property
    def envelope_reads(self) -> list[tuple[str, ...]]:
        with self._lock:
            return list(self._state.envelope_reads)

    @property
    def unwanted(self) -> list[bytes]:
        with self._lock:
            return list(self._state.unwanted)

    def messages_to(self, address: str) -> list[Received]:
        return [message for message in self.messages if address in message.recipients]

    async def wait_for_messages(self, count: int, *, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
            await asyncio.sleep(0.01)
        return self.messages

    # -- what tests tell it ------------------------------------------------------------

    def fail_next(self, count: int, reply: str | None = TRY_LATER, *, stage: str = "data") -> None:
        """The next ``count`` messages get ``reply`` (None: the connection is dropped)."""
        with self._lock:
            self._state.rules.append(Rule(reply=reply, stage=stage, remaining=count))

    def drop_next(self, count: int) -> None:
        self.fail_next(count, DROP)

    def fail_addresses(
        self,
        addresses: Iterable[str],
        reply: str | None = NO_SUCH_USER,
        *,
        times: int | None = None,
        stage: str = "rcpt",
    ) -> None:
        """Messages to ``addresses`` get ``reply`` (``times`` times, or for ever)."""
        rule = Rule(reply=reply, stage=stage, remaining=times, addresses=set(addresses))
        with self._lock:
            self._state.rules.append(rule)

    def clear_rules(self) -> None:
        with self._lock:
            self._state.rules.clear()

    # -- called from the server's thread -----------------------------------------------

    def take(self, stage: str, recipients: list[str]) -> Rule | None:
        with self._lock:
            for rule in self._state.rules:
                if rule.stage != stage:
                    continue
                if rule.addresses is not None and not rule.addresses.intersection(recipients):
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                return rule
        return None

    def note_message(self, message: Received) -> None:
        with self._lock:
            self._state.messages.append(message)

    def note_refusal(self, address: str, reply: str) -> None:
        with self._lock:
            self._state.refused.append((address, reply))

    def note_drop(self) -> None:
        with self._lock:
            self._state.dropped += 1

    def note_connection(self) -> None:
        with self._lock:
            self._state.connections += 1

    def note_login(self, login: Login) -> None:
        with self._lock:
            self._state.logins.append(login)

    def note_envelope_read(self, commands: tuple[str, ...]) -> None:
        with self._lock:
            self._state.envelope_reads.append(commands)

    def note_unwanted(self, content: bytes) -> None:
        with self._lock:
            self._state.unwanted.append(content)

    # -- life --------------------------------------------------------------------------

    def _protocol(self) -> SMTP:
        options: dict[str, Any] = {"hostname": "mail.test", "decode_data": False}
        if self.credentials is not None:
            user, password = self.credentials
            options.update(
                authenticator=_Authenticator(user, password, self),
                auth_require_tls=self.auth_require_tls,
                auth_required=True,
            )
        if self.starttls_context is not None:
            options.update(
                tls_context=self.starttls_context, require_starttls=self.require_starttls
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # AUTH without TLS is what a loopback test wants
            handler = _Pipelining(self) if self.pipelining else _Handler(self)
            return _Counting(handler, self, **options)

    def start(self) -> SmtpServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                self._loop.create_server(self._protocol, self.host, 0, ssl=self.tls_context)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="smtp-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("SMTP server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        loop, server = self._loop, self._server

        async def shutdown() -> None:
            if server is not None:
                server.close()
            current = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not current:
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class _Authenticator:
    def __init__(self, user: str, password: str, owner: SmtpServer | None = None) -> None:
        self.user, self.password = user.encode(), password.encode()
        self.owner = owner

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        good = (
            isinstance(data, LoginPassword)
            and data.login == self.user
            and data.password == self.password
        )
        if self.owner is not None and isinstance(data, LoginPassword):
            login = data.login.decode(errors="replace")
            self.owner.note_login(Login(login, good, _over_tls(server)))
        return AuthResult(success=good, handled=False)


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate and its key, as PEM files."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_certificate(directory: Path, *, name: str = "campaignd test") -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day.

    It is its own issuer, so trusting it (``SSL_CERT_FILE``, ``load_verify_locations``) is
    trusting a one-certificate CA: it carries the extensions a strict verifier asks of one.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(key_id, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    arguments = parser.parse_args()
    server = SmtpServer(delay=arguments.delay)
    server.note_message = lambda message: None  # type: ignore[method-assign]
    server.note_envelope_read = lambda commands: None  # type: ignore[method-assign]
    server.start()
    print(server.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
