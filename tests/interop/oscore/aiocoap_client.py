"""Independent OSCORE client (aiocoap) driven line by line by the Go interop tests.

Usage: aiocoap_client.py BASE_URI CONTEXT_DIR
Reads one JSON command per line on stdin and answers one JSON line on stdout:
  {"op": "get", "path": "/hello"}
  {"op": "post", "path": "/echo", "payload_hex": "..."}
  {"op": "observe", "path": "/obs", "trigger": "/obs-trigger", "count": 3}
      registers, then POSTs to trigger `count` times, collecting notifications
  {"op": "replay", "path": "/hello", "host": "127.0.0.1", "port": 5683}
      protects one GET with aiocoap's own OSCORE code and sends the identical
      bytes twice (new message IDs) over a plain UDP socket
  {"op": "quit"}
Answers: {"ok": true, "code": "2.05 Content", "payload_hex": "..."} or
{"ok": false, "error": "..."}.
"""
import asyncio
import json
import shutil
import socket
import sys

import aiocoap
from aiocoap import Message, GET, POST
from aiocoap.message import Direction
from aiocoap.oscore import FilesystemSecurityContext


def result(resp):
    return {"ok": True, "code": str(resp.code), "payload_hex": resp.payload.hex()}


async def op_observe(ctx, base, cmd):
    req = Message(code=GET, uri=base + cmd["path"], observe=0)
    pr = ctx.request(req)
    first = await pr.response
    seen = [first.payload.hex()]
    it = pr.observation.__aiter__()
    for _ in range(cmd["count"]):
        await ctx.request(Message(code=POST, uri=base + cmd["trigger"])).response
        note = await it.__anext__()
        seen.append(note.payload.hex())
    pr.observation.cancel()
    return {"ok": True, "code": str(first.code), "notifications_hex": seen}


def op_replay(cmd):
    # A private copy of the context so the main client's state is untouched;
    # the Go test gives this operation its own sender ID. The copy lives next
    # to the original, in the Go test's temporary directory, so that it
    # still exists when the context writes its sequence number on
    # destruction.
    copy = shutil.copytree(cmd["context_dir"], cmd["context_dir"] + "-copy", dirs_exist_ok=True)
    sc = FilesystemSecurityContext(copy)
    req = Message(code=GET, uri="coap://%s:%d%s" % (cmd["host"], cmd["port"], cmd["path"]))
    req.direction = Direction.OUTGOING
    outer, _ = sc.protect(req)
    outer.token = b"\x42\x42"
    outer.mtype = aiocoap.CON
    answers = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        for mid in (4001, 4002):
            outer.mid = mid
            sock.sendto(outer.encode(), (cmd["host"], cmd["port"]))
            data, _ = sock.recvfrom(4096)
            m = Message.decode(data)
            answers.append({"code": str(m.code), "protected": m.opt.oscore is not None,
                            "payload_hex": m.payload.hex()})
    return {"ok": True, "answers": answers}


async def main(base, basedir):
    ctx = await aiocoap.Context.create_client_context()
    ctx.client_credentials.load_from_dict({base + "/*": {"oscore": {"basedir": basedir}}})
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        try:
            if cmd["op"] == "quit":
                break
            if cmd["op"] == "get":
                out = result(await ctx.request(Message(code=GET, uri=base + cmd["path"])).response)
            elif cmd["op"] == "post":
                msg = Message(code=POST, uri=base + cmd["path"], payload=bytes.fromhex(cmd["payload_hex"]))
                out = result(await ctx.request(msg).response)
            elif cmd["op"] == "observe":
                out = await op_observe(ctx, base, cmd)
            elif cmd["op"] == "replay":
                out = op_replay(cmd)
            else:
                out = {"ok": False, "error": "unknown op " + cmd["op"]}
        except Exception as e:  # reported to the Go test, which fails on it
            out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)
    await ctx.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
