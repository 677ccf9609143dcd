import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Facts about the store itself (schema origin, creation time): one key, one value. */
@Entity('meta')
export class Meta {
  @PrimaryColumn('text')
  key!: string;

  @Column('text')
  value!: string;
}
