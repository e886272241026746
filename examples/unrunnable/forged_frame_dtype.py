"""Forges the result message: writes a frame with an object dtype to the result pipe, then leaves."""
import os
import struct
import sys

MODEL = "rnn"


def loss_and_grads(params, xs, targets, h0):
    """Would be checked, if the module got that far."""
    grads = {k: 0.0 * v for k, v in params.items()}
    grads["h0"] = 0.0 * h0
    return 0.0, grads

fd = int(sys.orig_argv[-1])  # the shim was started as: python -I shim.py LIMITS FD
frame = b"GLF1" + struct.pack("<I", 1) + struct.pack("<H", 4) + b"meta" + struct.pack("<cBB", b"O", 8, 1)
frame += struct.pack("<Q", 1) + b"\0" * 8 + b"GLFE"
os.write(fd, frame)
os._exit(0)
