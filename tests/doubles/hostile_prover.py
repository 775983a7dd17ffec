"""A fault-injection double: a "prover" that misbehaves on purpose, one way per command line.

It reads one line on stdin, does what argv[1] says, and reports on stdout what happened, so a test
can tell whether the sandbox held. Standard library only: it runs under the jail's dropped uid.
"""

import os
import socket
import subprocess
import sys
import time


def report(text: str) -> None:
    print(text, flush=True)


def write_outside(target: str) -> None:
    try:
        with open(target, "w") as f:
            f.write("escaped")
        report("WROTE")
    except OSError as e:
        report(f"BLOCKED {e.__class__.__name__}")


def main() -> None:
    mode = sys.argv[1]
    sys.stdin.readline()
    if mode == "write":
        write_outside(sys.argv[2])
    elif mode == "write-workdir":
        with open("inside.txt", "w") as f:
            f.write("ok")
        report(f"WROTE {os.getcwd()}")
    elif mode == "network":
        try:
            socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2).close()
            report("CONNECTED")
        except OSError as e:
            report(f"BLOCKED {e.__class__.__name__}")
    elif mode == "spawn":
        try:
            subprocess.run(["true"], check=True)
            report("SPAWNED")
        except OSError as e:
            report(f"BLOCKED {e.__class__.__name__}")
    elif mode == "memory":
        hoard = []
        try:
            while True:
                hoard.append(bytearray(64 * 1024 * 1024))
        except MemoryError:
            report(f"BLOCKED MemoryError after {len(hoard) * 64} MB")
    elif mode == "disk":
        written = 0
        try:
            with open("big", "wb") as f:
                while written < 2**31:
                    f.write(b"\0" * 2**20)
                    f.flush()
                    written += 2**20
            report("FILLED")
        except OSError as e:
            report(f"BLOCKED {e.__class__.__name__} after {written // 2**20} MB")
    elif mode == "daemon":  # double fork and a new session: the classic escape from a kill
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                report(f"DAEMON {os.getpid()}")
                time.sleep(3600)
            os._exit(0)
        report("PARENT")
        time.sleep(3600)
    elif mode == "hang":
        report("HANGING")
        time.sleep(3600)
    elif mode == "flood":
        while True:
            sys.stdout.write("x" * 65536)


if __name__ == "__main__":
    main()
