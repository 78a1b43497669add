/** CSAT when a session has ended: 1–5 (buttons a keyboard reaches), an optional comment. */
import { useState } from 'preact/hooks';
import type { Chat } from '../chat';
import { fill } from '../i18n';

export function Rating({ chat }: { chat: Chat }) {
  const { t } = chat;
  const [score, setScore] = useState(0);
  const [comment, setComment] = useState('');
  const rating = chat.rating!;
  if (rating.state === 'done')
    return (
      <p class="info" data-testid="rating-thanks">
        {t.rateThanks}
      </p>
    );
  return (
    <form
      class="rating"
      data-testid="rating"
      onSubmit={(e) => {
        e.preventDefault();
        if (score > 0) void chat.rate(score, comment);
      }}
    >
      <fieldset>
        <legend>{t.rateTitle}</legend>
        <div class="stars">
          {[1, 2, 3, 4, 5].map((n) => (
            <button
              type="button"
              key={n}
              class={n <= score ? 'star on' : 'star'}
              aria-pressed={n === score}
              aria-label={fill(t.rateStar, { n })}
              data-testid={`star-${n}`}
              onClick={() => setScore(n)}
            >
              ★
            </button>
          ))}
        </div>
        <label class="sr-only" for="ol-rating-comment">
          {t.rateComment}
        </label>
        <textarea
          id="ol-rating-comment"
          rows={2}
          maxLength={1000}
          placeholder={t.rateComment}
          value={comment}
          onInput={(e) => setComment(e.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={score === 0 || rating.state === 'sending'}>
          {t.rateSend}
        </button>
      </fieldset>
    </form>
  );
}
