import type { LexiconSource } from '../language.ts';

export const es: LexiconSource = { markers: '', cues: '', entries: '' };
