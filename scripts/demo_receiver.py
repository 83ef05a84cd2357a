# SPDX-License-Identifier: Apache-2.0
"""The seed's webhook catcher (a plain aiohttp app), served over TLS so that
edgehookd can deliver to it with certificate verification. Prints each batch
as it arrives and answers 200."""
import argparse
import json
import ssl
import sys

from aiohttp import web

seen = {"batches": 0, "notifications": 0}


async def handle(request):
    body = await request.json()
    seen["batches"] += 1
    seen["notifications"] += len(body)
    kinds = ", ".join("%s:%s id=%s" % (n.get("webhook_type"), n.get("event_type"), n.get("id"))
                      for n in body)
    print("batch %d from webhook %s (key %s): %d notification(s): %s"
          % (seen["batches"], request.headers.get("X-Edgehook-Webhook"),
             request.headers.get("X-Edgehook-Batch"), len(body), kinds), flush=True)
    if request.app["verbose"]:
        print(json.dumps(body, indent=1)[:4000], flush=True)
    return web.Response(status=200)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    app = web.Application()
    app["verbose"] = a.verbose
    app.router.add_post("/", handle)
    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    web.run_app(app, host="127.0.0.1", port=a.port, ssl_context=ctx, print=None,
                handle_signals=True)


if __name__ == "__main__":
    sys.exit(main())
