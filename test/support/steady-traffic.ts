// A flow kept installed past its max-idle by real packets: one a second, the way a live flow is kept,
// for specs that let another flow (or another copy of it) idle out meanwhile.

/** `body` while `send` puts a packet through a second; the sending stops (its last send awaited) when body ends. */
export async function whileSending<T>(send: () => Promise<unknown>, body: () => Promise<T>): Promise<T> {
  let sending = true;
  const traffic = (async () => {
    while (sending) {
      await send().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return await body();
  } finally {
    sending = false;
    await traffic;
  }
}
