// A process's clock off from the real one for the length of a call: a round or a shipper whose host's
// clock runs ahead (or behind), as hosts' clocks do; Date.now only (timers run on real time).
export async function withClockOff<T>(offsetMs: number, call: () => Promise<T>): Promise<T> {
  const real = Date.now.bind(Date);
  const off = jest.spyOn(Date, 'now').mockImplementation(() => real() + offsetMs);
  try {
    return await call();
  } finally {
    off.mockRestore();
  }
}
