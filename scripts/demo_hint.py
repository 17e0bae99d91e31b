"""Reads seed_demo's JSON on stdin and prints the demo token and a working curl line."""

import json
import sys

host, port = sys.argv[1], sys.argv[2]
demo = json.load(sys.stdin)
base = f"http://{host}:{port}/api/v1/channel/{demo['channel']}/customers/"
print(
    f"""
Demo data is ready: channel {demo["channel"]}, {demo["customers"]} customers with orders.
API user: {demo["username"]} / {demo["password"]}   (superuser)
Token:    {demo["token"]}

Try it:
  curl -H 'Authorization: Token {demo["token"]}' '{base}?limit=10'
  curl -H 'Authorization: Token {demo["token"]}' '{base}detailed/'
""",
    flush=True,
)
