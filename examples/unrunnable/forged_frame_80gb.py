"""Forges the result message: declares an 80 GB float64 array (nothing may be allocated for it)."""
import os
import struct
import sys

MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    """Would be checked, if the module got that far."""
    grads = {k: 0.0 * v for k, v in params.items()}
    grads["h0"] = 0.0 * h0
    return 0.0, grads

fd = int(sys.orig_argv[-1])
meta = b"{}"
frame = b"GLF1" + struct.pack("<I", 2)
frame += struct.pack("<H", 4) + b"meta" + struct.pack("<cBB", b"u", 1, 1) + struct.pack("<Q", len(meta)) + meta
frame += struct.pack("<H", 4) + b"out0" + struct.pack("<cBB", b"f", 8, 1) + struct.pack("<Q", 10**10)
os.write(fd, frame + b"\0" * 4096)
os._exit(0)
