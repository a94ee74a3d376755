/**
 * Next nonce per sender, safe under concurrent calls: the committed nonce is read once per sender
 * (concurrent first calls share that one read), then every call takes the next number
 * synchronously, so two concurrent transfers never get the same nonce. After a rejection the
 * numbers handed out past it would leave a gap, so the sender is forgotten and read again.
 */
export class NonceTracker {
  private readonly senders = new Map<string, { next: Promise<number>; issued: number }>();
  constructor(private readonly committedNonce: (sender: string) => Promise<number>) {}

  async next(sender: string): Promise<number> {
    let s = this.senders.get(sender);
    if (!s) {
      const next = this.committedNonce(sender).then((n) => n + 1);
      s = { next, issued: 0 };
      this.senders.set(sender, s);
      next.catch(() => this.senders.get(sender) === s && this.senders.delete(sender));
    }
    const k = s.issued++;
    return (await s.next) + k;
  }

  /** Forget a sender (after a rejection or a failed submission): the next call reads its nonce again. */
  reset(sender: string): void {
    this.senders.delete(sender);
  }
}
