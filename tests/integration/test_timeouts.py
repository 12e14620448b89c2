"""Redis and PostgreSQL calls are bounded: a server that stops answering fails a call
after its timeout instead of hanging the scheduler or a worker."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text

from campaignd.redis_client import connect_redis
from campaignd.settings import Settings
from campaignd.store.database import open_database


async def test_postgresql_connections_carry_the_statement_timeout_and_keepalives(
    postgres_url: str,
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=postgres_url,
        database_statement_timeout=2.5,
        database_keepalive_idle=12,
    )
    database = open_database(settings)
    try:
        async with database.connection() as connection:
            timeout = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
            idle = (await connection.execute(text("SHOW tcp_keepalives_idle"))).scalar_one()
            assert timeout == "2500ms"
            assert idle == "12"
            with pytest.raises(Exception, match="statement timeout"):
                await connection.execute(text("SELECT pg_sleep(10)"))
    finally:
        await database.dispose()


async def test_a_redis_that_accepts_but_never_answers_times_out() -> None:
    """A server that takes the connection and then says nothing (a hung Redis)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_connect_timeout=0.5,
        redis_socket_timeout=0.5,
    )
    client = connect_redis(f"redis://127.0.0.1:{port}/0", settings)
    started = time.monotonic()
    try:
        with pytest.raises((RedisTimeoutError, TimeoutError, asyncio.TimeoutError)):
            await asyncio.wait_for(client.ping(), timeout=30)
        assert time.monotonic() - started < 10  # bounded by the setting, not the test's 30 s
    finally:
        await client.aclose()
        silent.close()
