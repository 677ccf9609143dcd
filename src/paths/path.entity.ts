// One packet's path: its passes are the traces with this path_id.
import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

@Entity('path')
export class PathEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') chassis!: string;
  @Column('text', { name: 'created_at' }) createdAt!: string;
  @Column('text', { name: 'updated_at' }) updatedAt!: string;
  /** JSON path verdict */
  @Column('text') verdict!: string;
}

/** Per chassis, the time through which its agent has stored what it traced (migration ChassisMark, chassis-mark-store.ts). */
@Entity('chassis_mark')
export class ChassisMarkEntity {
  @PrimaryColumn('text') chassis!: string;
  @Column('text', { name: 'traced_through' }) tracedThrough!: string;
  @Column('text', { name: 'updated_at' }) updatedAt!: string;
}
