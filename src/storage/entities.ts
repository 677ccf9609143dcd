import { Meta } from './meta.entity';

/** Every entity of the service; feature modules add theirs here so the CLI sees them too. */
export const ENTITIES = [Meta];
