package sluice.bench;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Kafka Streams doing the core of Sluice's clickstream topology: records in the Confluent wire
 * format (magic byte, 4-byte schema id, Avro binary) are decoded with the schema file, the ones
 * that fail a simple rule (a session id and a known product for product events) are dropped,
 * the rest encoded again under the same schema id and produced. One stream thread, at-least-once.
 * Records over maxMessageBytes are dropped unread, as Sluice dead-letters them (the bench's data
 * has a few of about 1 MiB, which would also pass the producer's own limit by a header's width).
 *
 * Usage: ClickFilter bootstrap input output applicationId schemaFile stateDir maxMessageBytes
 */
public final class ClickFilter {
  private static final DecoderFactory DECODERS = DecoderFactory.get();
  private static final EncoderFactory ENCODERS = EncoderFactory.get();

  private ClickFilter() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0], input = args[1], output = args[2], appId = args[3];
    Schema schema = new Schema.Parser().parse(Files.readString(new File(args[4]).toPath()));
    int maxMessageBytes = Integer.parseInt(args[6]);
    GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(schema);
    GenericDatumWriter<GenericRecord> writer = new GenericDatumWriter<>(schema);

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .mapValues(v -> v != null && v.length <= maxMessageBytes ? decode(reader, v) : null)
        .filter((k, r) -> r != null && valid(r.record))
        .mapValues(r -> encode(writer, r))
        .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    // Sluice commits every second by default; so does this peer (Kafka Streams' default is 30 s).
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
    p.put(StreamsConfig.STATE_DIR_CONFIG, args[5]);
    p.put(StreamsConfig.producerPrefix("acks"), "all");
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      done.countDown();
    }));
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) System.out.println("running");
      if (now == KafkaStreams.State.ERROR) done.countDown();
    });
    streams.start();
    done.await();
  }

  /** A decoded record and the schema id it came with. */
  private record Decoded(int schemaId, GenericRecord record) {}

  private static Decoded decode(GenericDatumReader<GenericRecord> reader, byte[] v) {
    if (v == null || v.length < 5 || v[0] != 0) return null;
    try {
      BinaryDecoder d = DECODERS.binaryDecoder(v, 5, v.length - 5, null);
      return new Decoded(ByteBuffer.wrap(v, 1, 4).getInt(), reader.read(null, d));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static boolean valid(GenericRecord r) {
    if (r.get("session_id") == null) return false;
    String type = r.get("event_type").toString();
    boolean productEvent = !type.equals("page_view") && !type.equals("checkout_started");
    return !productEvent || r.get("product_id") != null;
  }

  private static byte[] encode(GenericDatumWriter<GenericRecord> writer, Decoded r) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream(256);
      out.write(0);
      out.write(ByteBuffer.allocate(4).putInt(r.schemaId()).array());
      BinaryEncoder e = ENCODERS.binaryEncoder(out, null);
      writer.write(r.record(), e);
      e.flush();
      return out.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
