// One packet's path: its passes are the traces with this path_id.
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('path')
export class PathEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') chassis!: string;
  @Column('text', { name: 'created_at' }) createdAt!: string;
  @Column('text', { name: 'updated_at' }) updatedAt!: string;
  /** JSON path verdict */
  @Column('text') verdict!: string;
}
