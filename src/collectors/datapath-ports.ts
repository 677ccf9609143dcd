// The integration bridge's datapath ports (dpif/show, cached by VswitchdService for seconds) in the
// shapes the tracer needs: number → name, name → number, and the maps annotation reads. Each
// dpif/show answer is turned into them once. `names()` is the last answer's, for the hot path that
// selects flows for sessions and cannot wait for a dpif/show.
import { Injectable } from '@nestjs/common';
import { dpifMaps } from '../correlation/verdict';
import { DpifDatapath, portNamesByNumber, portNumbersByName } from '../ovs/dpif-show';
import { VswitchdService } from './vswitchd.service';

export interface DatapathPortMaps {
  datapath: DpifDatapath;
  names: ReadonlyMap<string, string>;
  numbers: ReadonlyMap<string, number>;
  annotate: ReturnType<typeof dpifMaps>;
}

@Injectable()
export class DatapathPorts {
  private readonly views = new WeakMap<DpifDatapath, DatapathPortMaps>();
  private last: DatapathPortMaps | null = null;

  constructor(private readonly vswitchd: VswitchdService) {}

  /** The current datapath's port maps (null when ovs-vswitchd has none or does not answer). */
  async current(): Promise<DatapathPortMaps | null> {
    let dp: DpifDatapath | null;
    try {
      dp = await this.vswitchd.datapath();
    } catch {
      return null;
    }
    this.last = dp ? this.view(dp) : null;
    return this.last;
  }

  /** Port number → name from the last dpif/show read by current() (undefined before the first). */
  names(): ReadonlyMap<string, string> | undefined {
    return this.last?.names;
  }

  private view(dp: DpifDatapath): DatapathPortMaps {
    let v = this.views.get(dp);
    if (!v) {
      v = {
        datapath: dp,
        names: new Map([...portNamesByNumber(dp)].map(([n, name]) => [String(n), name])),
        numbers: new Map(portNumbersByName(dp)),
        annotate: dpifMaps(dp),
      };
      this.views.set(dp, v);
    }
    return v;
  }
}
