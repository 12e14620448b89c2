"""A stub DNS server for tests: UDP on 127.0.0.1, a free port, its own thread.

It answers TXT queries from ``records`` (a name -> list of texts), NXDOMAIN for any other
name, and SERVFAIL for the names in ``failing``. Point campaignd at it with
``CAMPAIGND_DNS_NAMESERVERS=127.0.0.1:{port}``: no query leaves the machine.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


def _chunks(text: str) -> list[bytes]:
    """A TXT record's text as character-strings of at most 255 bytes."""
    data = text.encode("ascii")
    return [data[index : index + 255] for index in range(0, len(data), 255)] or [b""]


class DnsServer:
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.failing: set[str] = set()
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = int(self._socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="stub-dns", daemon=True)

    @property
    def address(self) -> str:
        """The value for ``CAMPAIGND_DNS_NAMESERVERS``."""
        return f"127.0.0.1:{self.port}"

    def publish(self, name: str, *texts: str) -> None:
        self.records[name.lower().rstrip(".")] = list(texts)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            self._socket.sendto(self._answer(query).to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        self.queries.append(name)
        if name in self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        texts = self.records.get(name)
        if texts is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        if question.rdtype == dns.rdatatype.TXT:
            rrset = dns.rrset.from_text_list(
                question.name,
                300,
                dns.rdataclass.IN,
                dns.rdatatype.TXT,
                [" ".join(f'"{chunk.decode()}"' for chunk in _chunks(text)) for text in texts],
            )
            response.answer.append(rrset)
        return response
