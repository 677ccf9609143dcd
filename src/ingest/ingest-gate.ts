// How many ingest bodies are read and processed at once. Each POST /ingest/* body is held whole
// (up to LIVETRACE_INGEST_MAX_BYTES) with its parsed lines until its last chunk commits: ~100 MB for
// a 16 MB body, so six at once took the process from ~380 MB to ~980 MB and a few dozen producers
// killed it, with what it had accepted and every other route. At most LIVETRACE_INGEST_CONCURRENCY
// requests hold a slot; the next ones wait in line without their bodies being read (the socket's
// own backpressure holds the producer, nothing is buffered here), up to LIVETRACE_INGEST_QUEUE of
// them for at most LIVETRACE_INGEST_WAIT_SECONDS; past either they are refused with 503 and
// Retry-After, nothing of them read or stored, for the producer to send again.
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import { Counter, Gauge } from 'prom-client';
import { ApiError, clientGoneError } from '../common/api-error';
import { DrainingExpressAdapter } from '../common/http-drain';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import type { CutBound } from './ingest-body';

/** What a refused producer is told to wait before sending again (seconds). */
export const RETRY_AFTER_SECONDS = 5;
const STOPPING = 'this service is stopping';

interface Waiter {
  admit(): void;
  /** The service is stopping: told so now rather than cut off at the drain's end. */
  turnAway(): void;
}

@Injectable()
export class IngestGate implements OnModuleInit {
  private inFlight = 0;
  private stopping = false;
  private readonly line: Waiter[] = [];
  private readonly refused: Counter;
  private readonly cut: Counter;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    metrics: MetricsService,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    const registers = [metrics.registry];
    const gate = this;
    new Gauge({
      name: 'livetrace_ingest_requests_in_flight',
      help: 'Ingest requests whose bodies are being read or processed (at most LIVETRACE_INGEST_CONCURRENCY)',
      registers,
      collect() {
        this.set(gate.inFlight);
      },
    });
    new Gauge({
      name: 'livetrace_ingest_requests_waiting',
      help: 'Ingest requests waiting for a slot, their bodies not read (at most LIVETRACE_INGEST_QUEUE)',
      registers,
      collect() {
        this.set(gate.line.length);
      },
    });
    this.refused = new Counter({ name: 'livetrace_ingest_requests_refused_total', help: 'Ingest requests refused with 503 before their bodies were read, by the bound they met', labelNames: ['bound'], registers });
    this.cut = new Counter({
      name: 'livetrace_ingest_bodies_cut_total',
      help: 'Ingest bodies cut while read, their slot given back and nothing of them stored: over LIVETRACE_INGEST_MAX_BYTES (size), no byte for LIVETRACE_INGEST_BODY_STALL_SECONDS (stall), not whole in LIVETRACE_INGEST_BODY_SECONDS (time)',
      labelNames: ['bound'],
      registers,
    });
  }

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter instanceof DrainingExpressAdapter) adapter.onDrain(() => this.stop());
  }

  /** Counts a body cut while read under its slot (ingest-body.ts). */
  bodyCut(bound: CutBound): void {
    this.cut.inc({ bound });
  }

  /**
   * Waits for a slot (FIFO) and returns its release, which must be called once the request is done
   * with its body (any outcome; a second call does nothing). Throws the 503 when the line is full or
   * the wait too long; a client that goes away while waiting leaves the line.
   */
  async enter(req: Request, res: Response): Promise<() => void> {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inFlight--;
      const next = this.line.shift();
      if (next) next.admit();
    };
    if (this.stopping) throw this.refuse(req, res, 'stopping', STOPPING);
    if (this.inFlight < this.config.LIVETRACE_INGEST_CONCURRENCY && this.line.length === 0) {
      this.inFlight++;
      return release;
    }
    const { LIVETRACE_INGEST_CONCURRENCY: slots, LIVETRACE_INGEST_QUEUE: queue, LIVETRACE_INGEST_WAIT_SECONDS: wait } = this.config;
    if (this.line.length >= queue) {
      throw this.refuse(req, res, 'queue', `${this.line.length} ingest requests already wait for the ${slots} being processed (LIVETRACE_INGEST_QUEUE=${queue}, LIVETRACE_INGEST_CONCURRENCY=${slots})`);
    }
    return new Promise<() => void>((resolve, reject) => {
      const leave = () => {
        const i = this.line.indexOf(waiter);
        if (i >= 0) this.line.splice(i, 1);
        clearTimeout(timer);
        res.off('close', gone);
      };
      const waiter: Waiter = {
        admit: () => {
          leave();
          this.inFlight++;
          resolve(release);
        },
        turnAway: () => {
          leave();
          reject(this.refuse(req, res, 'stopping', STOPPING));
        },
      };
      // The client went away while waiting: its place goes to the next one. The rejection only
      // ends the handler; there is nobody left to answer.
      const gone = () => {
        leave();
        reject(clientGoneError());
      };
      const timer = setTimeout(() => {
        leave();
        reject(this.refuse(req, res, 'wait', `waited ${wait} s for one of the ${slots} ingest slots (LIVETRACE_INGEST_WAIT_SECONDS=${wait}, LIVETRACE_INGEST_CONCURRENCY=${slots})`));
      }, wait * 1000);
      this.line.push(waiter);
      res.once('close', gone);
    });
  }

  /**
   * The HTTP drain began (common/http-drain.ts): the requests waiting in line, whose bodies are not
   * read, are answered 503 now, and new ones at once. Waiting out the drain they were cut off with
   * their connection when it ended (5 s), told nothing; the ones in flight still finish.
   */
  stop(): void {
    this.stopping = true;
    for (const waiter of [...this.line]) waiter.turnAway();
  }

  private refuse(req: Request, res: Response, bound: 'queue' | 'wait' | 'stopping', why: string): ApiError {
    this.refused.inc({ bound });
    res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    // Read and dropped (as for a 413), so the producer, still sending, reads the answer.
    req.resume();
    return new ApiError(503, `${why}: nothing of this request was read or stored; send it again after Retry-After`, 'body');
  }
}
