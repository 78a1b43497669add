/**
 * A new message while the visitor is not looking: a short tone (Web Audio, no file to fetch; only
 * once the page has been interacted with, as browsers require) and the unread count in the page's
 * title while the tab is hidden. The title is given back as it was.
 */

export class Notifier {
  #audio: AudioContext | null = null;
  #title: string | null = null;

  alert(unread: number, label: string, _text: string | null): void {
    this.#beep();
    if (document.hidden) {
      this.#title ??= document.title;
      document.title = `(${unread}) ${label} · ${this.#title}`;
    }
  }

  clear(): void {
    if (this.#title !== null) document.title = this.#title;
    this.#title = null;
  }

  #beep(): void {
    try {
      const nav = navigator as Navigator & { userActivation?: { hasBeenActive: boolean } };
      if (nav.userActivation && !nav.userActivation.hasBeenActive) return;
      this.#audio ??= new AudioContext();
      const audio = this.#audio;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 660;
      gain.gain.setValueAtTime(0.12, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.35);
    } catch {}
  }
}
