"""TCP relays between the replicas and the store, for the `cut` fault.

Each replica reaches PostgreSQL or Redis through a relay of its own on a
local port. A cut stops the relay forwarding in both directions without
closing anything: bytes already sent stay held in the relay, nothing more is
read from either side, no FIN and no RST goes out. To the replica this is a
network that drops packets: a call in flight hangs, a new connection is
accepted (the relay's kernel completes the handshake) and then hears
nothing. When the cut heals, forwarding resumes on the connections that were
open, held bytes first, and new connections reach the store again.

Keeping the old connections is what a real partition of a few seconds does:
TCP retransmits what was dropped and the connection carries on, since
giving up on an unanswered connection takes the kernel minutes
(`tcp_retries2`). A client that wants to be rid of a connection stuck in a
partition must time it out itself; if it closes the connection during the
cut, the store hears of it only when the cut heals, as it would hear the
retransmitted FIN.

The relays of one run share an asyncio event loop in a thread of their own;
`Relays` is its handle for the checker's (synchronous) code.
"""

import asyncio
import threading

# How much one read takes from a socket.
CHUNK = 64 * 1024
# How long the checker waits for the relays' thread to act on a request.
ANSWER_WITHIN = 10.0


class Relay:
    """One replica's relay to the store: lives on the relays' event loop."""

    def __init__(self, store_host, store_port):
        self.store = (store_host, store_port)
        self.port = None
        self.server = None
        self.flowing = None
        self.connections = set()

    async def listen(self):
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server = await asyncio.start_server(self.connected, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self):
        self.flowing.clear()

    async def heal(self):
        self.flowing.set()

    async def connected(self, replica_in, replica_out):
        """A replica connected: once the network flows, connect on to the
        store and forward both ways until both sides are done."""
        task = asyncio.current_task()
        self.connections.add(task)
        store_out = None
        try:
            await self.flowing.wait()
            try:
                store_in, store_out = await asyncio.open_connection(*self.store)
            except OSError:
                return  # the store is down: the replica sees its connection closed
            await asyncio.gather(
                self.forward(replica_in, store_out),
                self.forward(store_in, replica_out),
            )
        except asyncio.CancelledError:
            pass  # the run is over: `close` ends every connection
        finally:
            self.connections.discard(task)
            for writer in (replica_out, store_out):
                if writer is not None:
                    writer.transport.abort()

    async def forward(self, source, sink):
        """Bytes from `source` to `sink` while the network flows; a cut
        holds them. The end of `source` is passed on as a half close."""
        try:
            while True:
                await self.flowing.wait()
                data = await source.read(CHUNK)
                if not data:
                    break
                await self.flowing.wait()
                sink.write(data)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
        except (ConnectionError, OSError):
            sink.transport.abort()

    async def close(self):
        self.server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)


class Relays:
    """The relays of one run, on an event loop in a thread of their own."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="relays", daemon=True)
        self.thread.start()
        self.relays = []

    def _do(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(ANSWER_WITHIN)

    def open(self, store_host, store_port):
        """A new relay to the store; its `port` is where the replica connects."""
        relay = Relay(store_host, store_port)
        self._do(relay.listen())
        self.relays.append(relay)
        return relay

    def cut(self, relay):
        self._do(relay.cut())

    def heal(self, relay):
        self._do(relay.heal())

    def close(self):
        for relay in self.relays:
            self._do(relay.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(ANSWER_WITHIN)
        self.loop.close()
