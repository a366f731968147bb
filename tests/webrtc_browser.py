"""Headless Chromium running web/live-peer.js, for test-webrtc-browser.

Usage: webrtc_browser.py <repository>, with a socket as stdout. The page's WebSocket is replaced
by a stand-in that this script bridges to the socket, one JSON message a line, both ways. A line
{"type":"report"} from the test is answered with the page's receive statistics (one line);
the end of the socket closes the browser.
"""
import json
import os
import select
import socket
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

STAND_IN = """
window.toServer = [];
window.WebSocket = class {
  constructor(url) {
    this.readyState = 0;
    window.socket = this;
    setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(); }, 0);
  }
  send(text) { window.toServer.push(text); }
  close() { this.readyState = 3; }
};
window.WebSocket.OPEN = 1;
"""

START = """
const done = arguments[arguments.length - 1];
navigator.mediaDevices.getUserMedia({audio: {channelCount: 1}}).then((mic) => {
  window.live = startLivePeer("ws://stand-in/live", document.querySelector("video"), mic);
  done("started");
}).catch((error) => done("getUserMedia: " + error));
"""

REPORT = """
const done = arguments[arguments.length - 1];
const pc = window.live.pc;
pc.getStats().then((stats) => {
  const out = {type: "report", state: pc.connectionState};
  stats.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") {
      Object.assign(out, {framesDecoded: s.framesDecoded, frameWidth: s.frameWidth,
                          frameHeight: s.frameHeight, framesPerSecond: s.framesPerSecond});
    } else {
      Object.assign(out, {audioEnergy: s.totalAudioEnergy, audioSamples: s.totalSamplesReceived});
    }
  });
  const video = document.querySelector("video");
  Object.assign(out, {videoWidth: video.videoWidth, videoTime: video.currentTime,
                      streams: video.srcObject ? video.srcObject.getTracks().length : 0,
                      streamId: video.srcObject ? video.srcObject.id : ""});
  done(out);
});
"""


def main():
    channel = socket.socket(fileno=os.dup(1))
    os.dup2(2, 1)  # whatever else writes to stdout (chromedriver) goes to stderr
    repository = sys.argv[1]
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        with tempfile.TemporaryDirectory() as folder:
            page = os.path.join(folder, "live.html")  # file: is a secure context (getUserMedia)
            with open(page, "w") as f:
                f.write("<!doctype html><video autoplay playsinline></video>")
            driver.get("file://" + page)
            driver.execute_script(STAND_IN)
            with open(os.path.join(repository, "web", "live-peer.js")) as f:
                driver.execute_script(f.read())
            driver.set_script_timeout(20)
            started = driver.execute_async_script(START)
            if started != "started":
                raise RuntimeError(started)
            relay(driver, channel)
    finally:
        driver.quit()


def relay(driver, channel):
    pending = b""
    while True:
        for message in driver.execute_script("return window.toServer.splice(0)"):
            channel.sendall(message.encode() + b"\n")
        if select.select([channel], [], [], 0.02)[0]:
            data = channel.recv(65536)
            if not data:
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                message = json.loads(line)
                if message.get("type") == "report":
                    report = driver.execute_async_script(REPORT)
                    channel.sendall(json.dumps(report).encode() + b"\n")
                else:
                    driver.execute_script("window.socket.onmessage({data: arguments[0]})", line.decode())


if __name__ == "__main__":
    main()
