// Logical port name → its northbound row's UUID (Logical_Switch_Port, else Logical_Router_Port),
// from the live northbound replica: what a stored trace's ports carry besides their names.
import { Injectable } from '@nestjs/common';
import type { TracePort } from '../correlation/types';
import { ReplicasService } from '../replicas/replicas.service';

@Injectable()
export class NorthboundPorts {
  constructor(private readonly replicas: ReplicasService) {}

  uuids(ports: readonly TracePort[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const p of ports) {
      const row = this.replicas.nb.find('Logical_Switch_Port', 'name', p.logicalPort)[0] ?? this.replicas.nb.find('Logical_Router_Port', 'name', p.logicalPort)[0];
      if (row) out.set(p.logicalPort, row._uuid);
    }
    return out;
  }
}
