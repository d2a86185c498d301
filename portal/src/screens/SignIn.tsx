import { useState } from 'preact/hooks';
import { config, signIn, signInReason } from '../api';
import { lang, setLang, t } from '../i18n';

export function SignIn() {
  const [pasted, setPasted] = useState('');
  const go = (jwt: string) => {
    signIn(jwt);
    location.hash = '#/';
  };
  const tokens = config.value?.devTokens ?? [];
  return (
    <main class="signin">
      <h1>{t('appTitle')}</h1>
      <button class="link lang" onClick={() => setLang(lang.value === 'zh' ? 'en' : 'zh')}>{t('lang')}</button>
      {signInReason.value === 'unauthenticated' ? (
        <div class="error" role="alert" data-codes="UNAUTHENTICATED">{t('unauthenticated')}</div>
      ) : null}
      <h2>{t('signIn')}</h2>
      {tokens.length ? (
        <section>
          <h3>{t('devTokens')}</h3>
          <ul class="tokens">
            {tokens.map((d) => (
              <li>
                <button onClick={() => go(d.token)} data-testid="dev-token">{d.label}</button>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section>
        <h3>{t('pasteJwt')}</h3>
        <textarea rows={4} cols={70} value={pasted} onInput={(e) => setPasted((e.target as HTMLTextAreaElement).value)} name="jwt" />
        <div>
          <button disabled={!pasted.trim()} onClick={() => go(pasted)}>{t('useToken')}</button>
        </div>
      </section>
    </main>
  );
}
