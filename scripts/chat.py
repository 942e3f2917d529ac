"""Chat with the running assistant in the terminal, through Rasa's REST webhook.

    make chat            (or: python -m scripts.chat --url http://127.0.0.1:5005 --hint sv)

Buttons are shown numbered: type the number to press one. Rasa's webhook asks for the API
token (RASA_TOKEN, else the project's .rasa_token, as `make run` starts Rasa).
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
import urllib.request
import uuid

from bot.rasa_token import resolve_rasa_token


def send(url: str, sender: str, text: str, metadata: dict, token: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text, "metadata": metadata}).encode()
    query = urllib.parse.urlencode({"token": token})
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook?{query}", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())


def main() -> None:
    parser = argparse.ArgumentParser(description="Chat with the assistant in the terminal.")
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--hint", help="channel language hint, e.g. sv or en")
    args = parser.parse_args()
    token = resolve_rasa_token()
    sender = f"terminal-{uuid.uuid4().hex[:12]}"
    metadata = {"channel": "terminal", **({"language_hint": args.hint} if args.hint else {})}
    buttons: list[dict] = []
    print("Type a message (Ctrl-D to quit).")
    while True:
        try:
            text = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        buttons = []
        for reply in send(args.url, sender, text, metadata, token):
            if "text" in reply:
                print(reply["text"])
            if "custom" in reply:
                print(f"[{json.dumps(reply['custom'], ensure_ascii=False)}]")
            for button in reply.get("buttons", []):
                buttons.append(button)
                print(f"  {len(buttons)}. {button['title']}")


if __name__ == "__main__":
    main()
