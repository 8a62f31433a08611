"""Independent OSCORE server (aiocoap) for the pqc-iiot interop tests.

Usage: aiocoap_server.py HOST PORT CONTEXT_DIR
CONTEXT_DIR is an aiocoap FilesystemSecurityContext directory (settings.json,
sequence.json). Prints READY once listening. Resources:
  GET  /hello          -> 2.05 "Hello World!"
  POST /echo           -> 2.04 with the request payload
  GET  /big            -> 2.05 with 2400 bytes (block-wise)
  GET  /obs (Observe)  -> "n<k>"; POST /obs-trigger increments k and notifies
"""
import asyncio
import sys

import aiocoap
import aiocoap.resource as resource
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

BIG = b"0123456789abcdef" * 150


class Hello(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(content_format=0, payload=b"Hello World!")


class Echo(resource.Resource):
    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload)


class Big(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=BIG)


class Counter(resource.ObservableResource):
    def __init__(self):
        super().__init__()
        self.n = 0

    async def render_get(self, request):
        return aiocoap.Message(content_format=0, payload=b"n%d" % self.n)


class Trigger(resource.Resource):
    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    async def render_post(self, request):
        self.counter.n += 1
        self.counter.updated_state()
        return aiocoap.Message(code=aiocoap.CHANGED, payload=b"n%d" % self.counter.n)


async def main(host, port, basedir):
    root = resource.Site()
    counter = Counter()
    root.add_resource(["hello"], Hello())
    root.add_resource(["echo"], Echo())
    root.add_resource(["big"], Big())
    root.add_resource(["obs"], counter)
    root.add_resource(["obs-trigger"], Trigger(counter))
    creds = CredentialsMap()
    creds.load_from_dict({":pqc-client": {"oscore": {"basedir": basedir}}})
    site = OscoreSiteWrapper(root, creds)
    await aiocoap.Context.create_server_context(
        site, bind=(host, int(port)), transports=["udp6"]
    )
    print("READY", flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
