import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** One changed row of the spool, by table and key, waiting to be shipped (migration Spool, spool.ts). */
@Entity('ship_log')
@Unique('uq_ship_log_row', ['tbl', 'pk'])
export class ShipLogEntry {
  @PrimaryGeneratedColumn()
  seq!: number;

  @Column('text')
  tbl!: string;

  /** The row's primary key values, a JSON array. */
  @Column('text')
  pk!: string;

  /** Changes to the row since its entry was made (the shipper forgets the entry only if unchanged). */
  @Column('integer', { default: 0 })
  ver!: number;
}

/** While a transaction holds a row here, changes are not shipped (local retention, pulled sessions). */
@Entity('ship_mute')
export class ShipMute {
  @PrimaryColumn('integer')
  on!: number;
}
