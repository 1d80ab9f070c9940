"""Instrumentation for one run: installed on entry, removed on every exit path."""

from nbgrad.capture.session import CaptureSession, StopRun

__all__ = ["CaptureSession", "StopRun"]
