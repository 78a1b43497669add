/**
 * The pre-chat form (the fields the channel's settings choose) and the offline form (name, e-mail and
 * a message, all asked for: the reply goes to the e-mail). Each field has a label and says what is
 * wrong with it next to it.
 */
import { useState } from 'preact/hooks';
import type { PrechatField } from '../api';
import type { Chat } from '../chat';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function Form({ chat, offline }: { chat: Chat; offline: boolean }) {
  const { t, config } = chat;
  const fields: PrechatField[] = offline ? ['name', 'email', 'message'] : (config?.prechatFields ?? []);
  const required = (f: PrechatField) => offline || f !== 'name' || fields.length === 1;
  const [values, setValues] = useState<Partial<Record<PrechatField, string>>>({
    name: chat.profile.name ?? '',
    email: chat.profile.email ?? '',
    message: '',
  });
  const [errors, setErrors] = useState<Partial<Record<PrechatField, string>>>({});
  const [busy, setBusy] = useState(false);
  const id = (f: PrechatField) => `ol-${offline ? 'offline' : 'prechat'}-${f}`;

  async function submit(e: Event) {
    e.preventDefault();
    const found: Partial<Record<PrechatField, string>> = {};
    for (const f of fields) {
      const v = values[f]?.trim() ?? '';
      if (!v && required(f)) found[f] = t.required;
      else if (f === 'email' && v && !EMAIL.test(v)) found[f] = t.badEmail;
    }
    setErrors(found);
    if (Object.keys(found).length > 0) {
      const first = fields.find((f) => found[f]);
      (e.currentTarget as HTMLFormElement).querySelector<HTMLElement>(`#${id(first!)}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      await chat.submitForm(values, offline);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="form" noValidate onSubmit={submit} data-testid={offline ? 'offline-form' : 'prechat-form'}>
      {config?.greeting && !offline && <p class="greeting">{config.greeting}</p>}
      <p class="intro">{offline ? t.offlineIntro : t.prechatIntro}</p>
      {fields.map((f) => {
        const label = f === 'name' ? t.name : f === 'email' ? t.email : t.message;
        const common = {
          id: id(f),
          name: f,
          value: values[f] ?? '',
          required: required(f),
          'aria-invalid': errors[f] ? true : undefined,
          'aria-describedby': errors[f] ? `${id(f)}-error` : undefined,
          onInput: (e: Event) => setValues({ ...values, [f]: (e.currentTarget as HTMLInputElement).value }),
        };
        return (
          <div class="field" key={f}>
            <label for={id(f)}>{label}</label>
            {f === 'message' ? (
              <textarea {...common} rows={3} maxLength={4000} />
            ) : (
              <input
                {...common}
                type={f === 'email' ? 'email' : 'text'}
                autocomplete={f === 'email' ? 'email' : 'name'}
                maxLength={f === 'email' ? 320 : 200}
              />
            )}
            {errors[f] && (
              <span class="error" id={`${id(f)}-error`} role="alert">
                {errors[f]}
              </span>
            )}
          </div>
        );
      })}
      <button type="submit" class="primary" disabled={busy} data-testid="form-submit">
        {offline ? t.offlineSend : t.start}
      </button>
    </form>
  );
}
