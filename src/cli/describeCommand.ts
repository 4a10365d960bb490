import type { Command } from 'commander';
import { describeTopology, graphAsMermaid, graphAsText } from '../engine/describeTopology.ts';
import { selectTopologies } from './runCommand.ts';

/** Registers `describe`. */
export function describeCommand(program: Command): void {
  program
    .command('describe')
    .argument('[topology...]', 'topologies to describe (default: all)')
    .description('The topology graph: sources, operators, rules, sinks and lineage, as text, Mermaid or JSON')
    .option('--format <format>', 'text, mermaid or json', 'text')
    .action((names: string[], opts: { format: string }) => {
      const graphs = selectTopologies(names).map(describeTopology);
      const out =
        opts.format === 'json'
          ? JSON.stringify(graphs, null, 2)
          : opts.format === 'mermaid'
            ? graphAsMermaid(graphs)
            : graphs.map(graphAsText).join('\n\n');
      process.stdout.write(`${out}\n`);
    });
}
