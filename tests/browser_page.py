#!/usr/bin/python3
"""Drives `dinet serve`'s page in headless Chromium (Debian's chromium + chromium-driver +
python3-selenium), as a user would: a dubbing job through the form, then (with --live) a live
session. Prints one JSON line of what it saw; exits non-zero with the reason on failure.

  browser_page.py URL --video V --audio A [--screenshot PNG] [--live --fake_audio WAV]
"""
import argparse
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser(fake_audio):
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1900",
                "--autoplay-policy=no-user-gesture-required",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                # Host candidates as plain addresses: the server's ICE agent cannot resolve mDNS names.
                "--disable-features=WebRtcHideLocalIpsWithMdns"]:
        options.add_argument(arg)
    if fake_audio:
        options.add_argument("--use-file-for-fake-audio-capture=" + fake_audio)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def dub_through_the_form(driver, args, seen):
    driver.find_element(By.ID, "video-file").send_keys(args.video)
    driver.find_element(By.ID, "audio-file").send_keys(args.audio)
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, args.timeout).until(
        lambda d: d.find_element(By.ID, "result").get_attribute("src")
        or d.find_element(By.ID, "job-error").text)
    error = driver.find_element(By.ID, "job-error").text
    if error:
        raise RuntimeError("the job failed: " + error)
    seen["progress"] = float(driver.find_element(By.ID, "progress").get_attribute("value"))
    # The result must play: its clock advances and it has a picture.
    played = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const v = document.getElementById('result');
        v.muted = true;
        v.play().then(() => setTimeout(() => done(
            {time: v.currentTime, width: v.videoWidth, ready: v.readyState}), 1500),
          (e) => done({error: String(e)}));""")
    if "error" in played or played["time"] < 0.3 or played["width"] <= 0:
        raise RuntimeError("the result video did not play: " + json.dumps(played))
    seen["result"] = played


STATS_JS = """
const done = arguments[arguments.length - 1];
live.peer.pc.getStats().then((report) => {
  const out = {video_frames: 0, audio_samples: 0, audio_energy: 0, width: 0};
  report.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") { out.video_frames = s.framesDecoded || 0; out.width = s.frameWidth || 0; }
    if (s.kind === "audio") { out.audio_samples = s.totalSamplesReceived || 0;
                              out.audio_energy = s.totalAudioEnergy || 0; }
  });
  out.time = performance.now() / 1000;
  done(out);
});"""


def talk_to_the_avatar(driver, args, seen):
    # The avatar given with --avatar is preselected once it is prepared.
    WebDriverWait(driver, args.timeout).until(lambda d: d.find_element(By.ID, "live-avatar").get_attribute("value"))
    driver.find_element(By.ID, "live-start").click()
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return live.peer && live.peer.pc.connectionState === 'connected'"))
    time.sleep(2)  # past the start: the steady rate is what counts
    first = driver.execute_async_script(STATS_JS)
    time.sleep(args.live_seconds)
    second = driver.execute_async_script(STATS_JS)
    elapsed = second["time"] - first["time"]
    seen["live_fps"] = (second["video_frames"] - first["video_frames"]) / elapsed
    seen["live_width"] = second["width"]
    seen["live_audio_samples"] = second["audio_samples"]
    if seen["live_fps"] < args.min_fps:
        raise RuntimeError("live video arrived at %.1f frames/s" % seen["live_fps"])
    if second["audio_samples"] <= first["audio_samples"]:
        raise RuntimeError("no live audio arrived")
    # The `say` path: typed text is spoken, and its sound reaches the page.
    driver.find_element(By.ID, "live-text").send_keys("Hello, this is the avatar speaking.")
    driver.find_element(By.ID, "live-say").click()
    before = driver.execute_async_script(STATS_JS)
    time.sleep(3)
    after = driver.execute_async_script(STATS_JS)
    seen["say_audio_energy"] = after["audio_energy"] - before["audio_energy"]
    error = driver.find_element(By.ID, "live-error").text
    if error and "microphone" not in error:
        raise RuntimeError("say failed: " + error)
    if seen["say_audio_energy"] <= 0:
        raise RuntimeError("the spoken text did not reach the page")
    if args.screenshot:
        driver.save_screenshot(args.screenshot)
    driver.find_element(By.ID, "live-stop").click()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--video", required=True)
    parser.add_argument("--audio", required=True)
    parser.add_argument("--screenshot")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--live", action="store_true", help="also start a live session")
    parser.add_argument("--fake_audio", help="a WAV the browser plays as its microphone")
    parser.add_argument("--live_seconds", type=float, default=5)
    parser.add_argument("--min_fps", type=float, default=15)
    args = parser.parse_args()
    seen = {}
    driver = browser(args.fake_audio)
    try:
        driver.set_script_timeout(args.timeout)
        driver.get(args.url)
        dub_through_the_form(driver, args, seen)
        if args.live:
            talk_to_the_avatar(driver, args, seen)
        if args.screenshot and not args.live:
            driver.save_screenshot(args.screenshot)
    except Exception as e:  # one line saying what failed, for the test's message
        print(json.dumps({"error": str(e).splitlines()[0] if str(e) else repr(e), "seen": seen}))
        return 1
    finally:
        driver.quit()
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
