/** Heap readings that mean something: taken after the garbage a measurement left behind is really gone. */
export interface HeapReading {
  heapUsed: number;
  rss: number;
}

/**
 * heapUsed and rss after several forced GCs with turns of the event loop between them, so finalizers and weak
 * callbacks run too. Needs a process started with --expose-gc.
 */
export async function settledHeap(gc: NodeJS.GCFunction): Promise<HeapReading> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}
