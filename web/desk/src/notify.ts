/** A sound and a desktop notification for a new session (permission asked on the sign-in click). */
import { t } from './i18n';

export function askNotificationPermission(): void {
  if ('Notification' in window && Notification.permission === 'default')
    void Notification.requestPermission();
}

let audio: AudioContext | null = null;

export function notifyNewSession(name: string): void {
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch {
    // No audio output: the list and the title still show it.
  }
  if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
    new Notification(t('newSession'), { body: name, tag: 'omniline-desk' });
  }
}
